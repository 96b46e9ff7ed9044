"""batchscope from Python.

`python3 -m batchscope.sweep FILE.py:FUNC` times and profiles your own training step per batch
size and explains, from measured numbers, which of your functions carry the fixed cost per step
and which the cost per image (see batchscope/sweep.py for the contract FUNC follows).
"""
