"""Bundle-level text conventions shared by every bundle this trainer writes (design §1)."""

PROMPT_TEMPLATE = "Problem: {prompt}\nSolution:\n"
STEP_SEPARATOR = "\n"
APPEND_EOS = True
USE_CHAT_TEMPLATE = False
DEFAULT_BETA = 0.05
FORMAT = "implicit-prm-bundle"
FORMAT_VERSION = 1
