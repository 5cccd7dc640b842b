"""The paper's methods: the LSTM LM and attention seq2seq (§2), decoding, the one training loop, evaluation
(NLL, PPL, Table 4 / 9 rows), gibbs-enum and the hit criteria (App. A, §3.2), Algorithm 1 (§3.2),
Algorithm 2 (§3.3), the negative losses, the GAN and MMI-antiLM comparisons (App. E), collateral damage."""
