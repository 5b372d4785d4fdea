"""Languages Whisper knows (code -> lowercase English name, as openai-whisper names them).

Kept here so the API can validate and name languages without importing the model; a test checks
the codes against faster-whisper's `tokenizer._LANGUAGE_CODES`.
"""

import re

_NAMES = """
en english|zh chinese|de german|es spanish|ru russian|ko korean|fr french|ja japanese|pt portuguese
tr turkish|pl polish|ca catalan|nl dutch|ar arabic|sv swedish|it italian|id indonesian|hi hindi
fi finnish|vi vietnamese|he hebrew|uk ukrainian|el greek|ms malay|cs czech|ro romanian|da danish
hu hungarian|ta tamil|no norwegian|th thai|ur urdu|hr croatian|bg bulgarian|lt lithuanian|la latin
mi maori|ml malayalam|cy welsh|sk slovak|te telugu|fa persian|lv latvian|bn bengali|sr serbian
az azerbaijani|sl slovenian|kn kannada|et estonian|mk macedonian|br breton|eu basque|is icelandic
hy armenian|ne nepali|mn mongolian|bs bosnian|kk kazakh|sq albanian|sw swahili|gl galician
mr marathi|pa punjabi|si sinhala|km khmer|sn shona|yo yoruba|so somali|af afrikaans|oc occitan
ka georgian|be belarusian|tg tajik|sd sindhi|gu gujarati|am amharic|yi yiddish|lo lao|uz uzbek
fo faroese|ht haitian creole|ps pashto|tk turkmen|nn nynorsk|mt maltese|sa sanskrit
lb luxembourgish|my myanmar|bo tibetan|tl tagalog|mg malagasy|as assamese|tt tatar|haw hawaiian
ln lingala|ha hausa|ba bashkir|jw javanese|su sundanese|yue cantonese
"""
LANGUAGE_NAMES: dict[str, str] = dict(
    tuple(item.strip().split(" ", 1))  # type: ignore[misc]
    for item in _NAMES.replace("\n", "|").split("|")
    if item.strip()
)
LANGUAGE_CODES: frozenset[str] = frozenset(LANGUAGE_NAMES)

# A model name is a short identifier (`base`, `tiny.en`, `large-v3`) or a local directory path.
MODEL_NAME_PATTERN = re.compile(r"[A-Za-z0-9._/\-]{1,200}")
