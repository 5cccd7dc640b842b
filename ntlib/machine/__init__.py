"""What a run runs on: the float path pinned before torch computes, the device setting, the ``ntlib``
Jupyter kernel, provenance (code digests, machine records) and several processes with torchrun."""
