"""Validation against independent in-situ data (notebooks 05-08): one module per step.

The data flow is one way: the product and the other gridded products are read here, never
written back; no estimation module imports this package.

=====================  ==========================================================================
module                 step
=====================  ==========================================================================
``stations``           every network read through its provider's reader (``helpers.sources``)
``matching``           stations to product cells (containing cell; 9 km footprint for SMAP
                       core sites), products read at those cells only
``baselines``          the CDF-matched ERA5-Land product; the ablation models as products
``run``                the matched data of a run (``data/validation/matched.zarr``)
``representative``     the rule for "representative" stations
``scores``             metrics per station, period and product with autocorrelation-aware
                       intervals (effective sample size, moving-block bootstrap); medians
``significance``       is A better than B: per station (Williams' t, paired block bootstrap,
                       FDR) and across stations (paired t, Wilcoxon)
``collocation``        triple collocation, and on the twin world against the true errors
``winter``             the winter evaluation and its frozen strata
``tables``, ``figures``  the notebooks' tables (rows owned per source) and figures
=====================  ==========================================================================

The metrics themselves are pure functions in :mod:`helpers.metrics`.
"""
