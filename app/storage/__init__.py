"""Redis and the broker: the only code that touches their keys and queues."""
