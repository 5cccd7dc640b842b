"""The paper's reported numbers, stored once as data (He & Glass 2020), printed beside ours.

Keys: corpus → row → column. Percentages are fractions (37.4 % → 0.374). Never used as
results: notebooks only place them in a "paper" column next to what the run measured.
"""
from __future__ import annotations

# Table 8 (App. C): test PPL (NLL) of the baseline models.
TABLE8 = {
    "ubuntu":        {"lm": {"ppl": 66.29, "nll": 4.19}, "seq2seq": {"ppl": 59.49, "nll": 4.08}},
    "switchboard":   {"lm": {"ppl": 44.37, "nll": 3.79}, "seq2seq": {"ppl": 42.81, "nll": 3.75}},
    "opensubtitles": {"lm": {"ppl": 74.74, "nll": 4.31}, "seq2seq": {"ppl": 70.81, "nll": 4.26}},
}

# Table 4 (§4.3): frequent response problem; rows keyed as in the paper.
TABLE4 = {
    "ubuntu": {
        "Test-set":          {"r_thres": None, "ppl": None, "max_ratio": 0.011, "ent2": 10.09, "ent3": 11.32},
        "Baseline":          {"r_thres": None, "ppl": 59.49, "max_ratio": 0.044, "ent2": 5.33, "ent3": 5.92},
        "+GAN":              {"r_thres": None, "ppl": 59.43, "max_ratio": 0.047, "ent2": 5.30, "ent3": 5.87},
        "+MMI":              {"r_thres": None, "ppl": None, "max_ratio": 0.045, "ent2": 5.34, "ent3": 5.93},
        "+neg-train (1%)":   {"r_thres": 0.01, "ppl": 59.76, "max_ratio": 0.012, "ent2": 5.74, "ent3": 6.52},
        "+neg-train (0.1%)": {"r_thres": 0.001, "ppl": 60.06, "max_ratio": 0.013, "ent2": 6.44, "ent3": 7.55},
    },
    "switchboard": {
        "Test-set":          {"r_thres": None, "ppl": None, "max_ratio": 0.100, "ent2": 8.61, "ent3": 9.65},
        "Baseline":          {"r_thres": None, "ppl": 42.81, "max_ratio": 0.374, "ent2": 2.71, "ent3": 2.42},
        "+GAN":              {"r_thres": None, "ppl": 42.69, "max_ratio": 0.49, "ent2": 2.66, "ent3": 2.35},
        "+MMI":              {"r_thres": None, "ppl": None, "max_ratio": 0.23, "ent2": 5.48, "ent3": 6.23},
        "+neg-train (10%)":  {"r_thres": 0.10, "ppl": 42.84, "max_ratio": 0.124, "ent2": 3.86, "ent3": 4.00},
        "+neg-train (1%)":   {"r_thres": 0.01, "ppl": 44.32, "max_ratio": 0.098, "ent2": 5.48, "ent3": 6.03},
    },
    "opensubtitles": {
        "Test-set":          {"r_thres": None, "ppl": None, "max_ratio": 0.0047, "ent2": 9.66, "ent3": 10.98},
        "Baseline":          {"r_thres": None, "ppl": 70.81, "max_ratio": 0.20, "ent2": 4.22, "ent3": 4.59},
        "+GAN":              {"r_thres": None, "ppl": 72.00, "max_ratio": 0.188, "ent2": 4.08, "ent3": 4.43},
        "+MMI":              {"r_thres": None, "ppl": None, "max_ratio": 0.036, "ent2": 7.63, "ent3": 9.08},
        "+neg-train (1%)":   {"r_thres": 0.01, "ppl": 72.37, "max_ratio": 0.031, "ent2": 5.68, "ent3": 6.60},
        "+neg-train (0.1%)": {"r_thres": 0.001, "ppl": 75.71, "max_ratio": 0.006, "ent2": 6.90, "ent3": 8.13},
    },
}

# Table 9 (App. F): BLEU-4 before / after frequent-response negative training.
TABLE9 = {
    "ubuntu":        {"Baseline": {"ppl": 59.49, "bleu4": 0.443, "max_ratio": 0.044},
                      "Neg-train": {"ppl": 60.06, "bleu4": 0.464, "max_ratio": 0.013}},
    "switchboard":   {"Baseline": {"ppl": 42.81, "bleu4": 0.476, "max_ratio": 0.374},
                      "Neg-train": {"ppl": 44.32, "bleu4": 0.475, "max_ratio": 0.098}},
    "opensubtitles": {"Baseline": {"ppl": 70.81, "bleu4": 0.502, "max_ratio": 0.20},
                      "Neg-train": {"ppl": 75.71, "bleu4": 0.526, "max_ratio": 0.006}},
}

# Table 3 (§4.2): malicious-target hit rates (train list / test list) and PPL.
# Hit types: Switchboard o-/io-sample-avg; Ubuntu and OpenSubtitles o-/io-sample-min.
_T3 = ("train", "test", "ppl")
TABLE3 = {
    "ubuntu": {
        "o_sample_min": {"Baseline": dict(zip(_T3, (0.164, 0.126, 59.49))),
                         "+neg-tr(0.5k)": dict(zip(_T3, (0.0, 0.02, 60.42))),
                         "+neg-tr(1k)": dict(zip(_T3, (0.001, 0.014, 60.72))),
                         "+neg-tr(2.5k)": dict(zip(_T3, (0.0004, 0.0, 62.11)))},
        "io_sample_min": {"Baseline": dict(zip(_T3, (0.078, 0.052, 59.49))),
                          "+neg-tr(0.5k)": dict(zip(_T3, (0.002, 0.014, 59.97))),
                          "+neg-tr(1k)": dict(zip(_T3, (0.001, 0.01, 60.21))),
                          "+neg-tr(2.5k)": dict(zip(_T3, (0.002, 0.0, 63.37)))},
    },
    "switchboard": {
        "o_sample_avg": {"Baseline": dict(zip(_T3, (0.278, 0.276, 42.81))),
                         "+neg-tr(0.5k)": dict(zip(_T3, (0.038, 0.134, 42.91))),
                         "+neg-tr(1k)": dict(zip(_T3, (0.024, 0.05, 42.96))),
                         "+neg-tr(2.5k)": dict(zip(_T3, (0.013, 0.026, 43.51)))},
        "io_sample_avg": {"Baseline": dict(zip(_T3, (0.196, 0.21, 42.81))),
                          "+neg-tr(0.5k)": dict(zip(_T3, (0.022, 0.094, 42.7))),
                          "+neg-tr(1k)": dict(zip(_T3, (0.021, 0.04, 42.76))),
                          "+neg-tr(2.5k)": dict(zip(_T3, (0.015, 0.016, 43.24)))},
    },
    "opensubtitles": {
        "o_sample_min": {"Baseline": dict(zip(_T3, (0.407, 0.366, 70.81))),
                         "+neg-tr(0.5k)": dict(zip(_T3, (0.058, 0.122, 77.90))),
                         "+neg-tr(1k)": dict(zip(_T3, (0.052, 0.07, 68.77))),
                         "+neg-tr(2.5k)": dict(zip(_T3, (0.048, 0.06, 74.07)))},
        "io_sample_min": {"Baseline": dict(zip(_T3, (0.192, 0.136, 70.81))),
                          "+neg-tr(0.5k)": dict(zip(_T3, (0.052, 0.066, 73.48))),
                          "+neg-tr(1k)": dict(zip(_T3, (0.092, 0.046, 68.92))),
                          "+neg-tr(2.5k)": dict(zip(_T3, (0.034, 0.036, 75.9)))},
    },
}

# Appendix B: data-set statistics.
APPENDIX_B = {
    "switchboard": {"train_dialogues": 1100, "train_sentences": 181_000, "train_words": 1_200_000,
                    "valid_dialogues": 25, "test_dialogues": 25, "vocab": 10_000},
    "ubuntu": {"train_dialogues": 200_000, "train_sentences": 1_200_000, "train_words": 16_000_000,
               "valid_dialogues": 5_000, "test_dialogues": 5_000, "vocab": 30_000},
    "opensubtitles": {"train_dialogues": 5_000, "train_sentences": 5_000_000,
                      "train_words": 36_000_000, "valid_dialogues": 50, "test_dialogues": 50,
                      "vocab": 30_000},
}
