"""What a run's results become: response metrics (max-ratio, Ent-n, BLEU-4), the statistics behind every
verdict, the paper's numbers, the tables and verdicts, figures, Table 6's human evaluation, and the atomic
writes of reports/."""
