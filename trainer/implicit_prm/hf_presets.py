"""`import --preset NAME`: the text conventions a released implicit PRM was trained and scored with,
so its bundle scores traces the way its own code does. Each setting names its source.

eurus-prm (PRIME-RL/EurusPRM-Stage1 and -Stage2, Qwen2.5-Math-7B-Instruct as the reference). The
source is the usage code of the model cards (huggingface.co/PRIME-RL/EurusPRM-Stage2, README.md,
"Usage"), which the ImplicitPRM and PRIME evaluation scripts repeat:
  - `coef = 0.001` multiplies the log-ratio before the cumulative sum: β at inference is 0.001
    (the paper trains with 0.05; rankings do not depend on β, σ(q) does);
  - the assistant message is `"\\n\\n".join(steps)`: the step separator is a blank line;
  - the conversation goes through `tokenizer.apply_chat_template([{"role": "user", "content": query},
    {"role": "assistant", "content": ...}])`: the tokenizer's chat template renders the prompt;
  - the last step's sum is gathered at `len(ids) - 2` of the whole, stripped conversation, which
    counts the end-of-turn token `<|im_end|>`: the last step is followed by `<|im_end|>`;
  - the examples number their steps "Step 1: ...", "Step 2: ..." (the evaluation scripts add the
    prefix to unnumbered steps): callers send steps with that prefix; the bundle adds none;
  - the cumulative sum is gathered at `len(prefix ids) - 2` of each stripped prefix conversation
    (which ends with `<|im_end|>`, + "\\n\\n" between steps), with the log-probs shifted by one, and
    the mask starts two tokens before the end of the stripped empty conversation:
    `step_boundaries` "eos-separator" cuts the steps there (docs/models.md).
"""
from __future__ import annotations

PRESETS = {
    "eurus-prm": {
        "beta": 0.001,
        "step_separator": "\n\n",
        "use_chat_template": True,
        "append_eos": True,
        "eos_token": "<|im_end|>",
        "step_boundaries": "eos-separator",
        "provenance": {"preset": "eurus-prm", "source": "PRIME-RL/EurusPRM-Stage2 model card usage code (coef=0.001)"},
    },
}
