"""Bundle-level text conventions shared by every bundle this trainer writes (ARCHITECTURE.md §1)."""

PROMPT_TEMPLATE = "Problem: {prompt}\nSolution:\n"
STEP_SEPARATOR = "\n"
APPEND_EOS = True
USE_CHAT_TEMPLATE = False
DEFAULT_BETA = 0.05
FORMAT = "implicit-prm-bundle"
FORMAT_VERSION = 1

# the text conventions as the manifest fields that scoring.segment() reads
TEXT_FORMAT = {"prompt_template": PROMPT_TEMPLATE, "step_separator": STEP_SEPARATOR, "append_eos": APPEND_EOS}
