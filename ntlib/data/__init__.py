"""The data: corpus readers and the paper's preprocessing (App. B), where files are found and verified,
the vocabulary and the tensors the models read, the malicious target lists, corpus statistics."""
