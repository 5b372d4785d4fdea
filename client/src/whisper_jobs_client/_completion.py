"""`whisper-jobs completion bash|zsh`: a shell completion script generated from the command's
own argparse parser, so it always knows every subcommand and flag.

    eval "$(whisper-jobs completion bash)"     # in ~/.bashrc
    eval "$(whisper-jobs completion zsh)"      # in ~/.zshrc (through bashcompinit)
"""

from __future__ import annotations

import argparse

_TEMPLATE = """_whisper_jobs() {{
    local cur="${{COMP_WORDS[COMP_CWORD]}}" opts=""
    if [ "$COMP_CWORD" -eq 1 ]; then
        COMPREPLY=($(compgen -W "{commands} --help --version" -- "$cur"))
        return
    fi
    case "${{COMP_WORDS[1]}}" in
{cases}
    esac
    if [[ "$cur" == -* ]]; then
        COMPREPLY=($(compgen -W "$opts" -- "$cur"))
    else
        COMPREPLY=($(compgen -f -- "$cur"))
    fi
}}
complete -o filenames -F _whisper_jobs whisper-jobs
"""


def _subcommands(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return dict(action.choices)
    return {}


def script(parser: argparse.ArgumentParser, shell: str) -> str:
    commands = _subcommands(parser)
    cases = []
    for name, sub in commands.items():
        flags = sorted({flag for action in sub._actions for flag in action.option_strings})
        nested = " ".join(_subcommands(sub))  # e.g. `keys create`
        words = " ".join([*flags, nested]).strip()
        cases.append(f'        {name}) opts="{words}" ;;')
    body = _TEMPLATE.format(commands=" ".join(commands), cases="\n".join(cases))
    if shell == "zsh":
        body = "autoload -U +X bashcompinit && bashcompinit\n" + body
    return body
