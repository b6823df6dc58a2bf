"""implicit_prm: offline trainer for implicit process reward models.

Data (synthetic arithmetic) -> SFT reference -> rollouts -> implicit PRM training (CE / DPO)
-> ONNX bundle export (design §2) -> golden fixtures, reference scorer, evaluation.
"""

__version__ = "0.1.0"
