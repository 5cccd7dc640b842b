"""Running it: the stage configs and their rules, the named profiles, the notebooks' parameters, the cached
baselines, ``make reproduce`` (the stage runner, ``--compare``, ``--publish``, ``--estimate``) and the
interactive panel."""
