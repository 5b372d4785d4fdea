"""Language codes Whisper knows, kept here so the API can validate without importing the model.

Copied from faster-whisper's `tokenizer._LANGUAGE_CODES` (a test checks they stay equal).
"""

import re

_CODES = """
af am ar as az ba be bg bn bo br bs ca cs cy da de el en es et eu fa fi fo fr gl gu ha haw he hi hr
ht hu hy id is it ja jw ka kk km kn ko la lb ln lo lt lv mg mi mk ml mn mr ms mt my ne nl nn no oc
pa pl ps pt ro ru sa sd si sk sl sn so sq sr su sv sw ta te tg th tk tl tr tt uk ur uz vi yi yo zh
yue
"""
LANGUAGE_CODES: frozenset[str] = frozenset(_CODES.split())

# A model name is a short identifier (`base`, `tiny.en`, `large-v3`) or a local directory path.
MODEL_NAME_PATTERN = re.compile(r"[A-Za-z0-9._/\-]{1,200}")
