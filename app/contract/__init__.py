"""The contract: what a job is and what the service says about it. Imports nothing else of ours."""
