"""Readers and writers of the input, target, mask and comparison products, one module per product.

Gridded products:

* ``glass_albedo``: GLASS AVHRR albedo (6 bands), 8-day, 0.05 deg CMG, HDF4 (input).
* ``glass_lst``: GLASS AVHRR land-surface temperature, daily, 0.05 deg CMG, HDF4 (input).
* ``glass_modis_sm``: GLASS-MODIS soil moisture, daily, 1 km sinusoidal GeoTIFF (target).
* ``era5_land``: ERA5-Land ``swvl1``, 0.1 deg nodes, hourly or daily, NetCDF (input).
* ``merit_dem``: MERIT DEM elevation and derived slope, 5 x 5 deg GeoTIFF tiles (input).
* ``soilgrids``: SoilGrids 2.0 clay, sand, silt of 0-5 cm, GeoTIFF (input).
* ``mcd12c1``: MODIS MCD12C1 IGBP land cover, 0.05 deg CMG, HDF4 or GeoTIFF (masks).
* ``esa_cci``: ESA CCI SM COMBINED, daily, 0.25 deg, NetCDF (comparison).

In-situ networks (validation) have their own modules and contract, described in
:mod:`helpers.sources._stations`, each reading the files as its provider ships them:

* ``ismn``: the ISMN archive (``ismn`` package), COSMOS (US) included (cosmic-ray probes in
  ISMN format);
* ``cosmos_uk``: COSMOS-UK daily CSV files and site metadata as UKCEH publishes them;
* ``cosmos_europe``: the COSMOS-Europe release (TERENO), hourly processed station files;
* ``smap_cvs``: SMAP core validation sites, NSIDC-0712 match-up text files.

Every layout fact in those modules is tagged with its source (provider documentation or
public reader code); facts no source settles are parameters (``validation.stations`` in the
params) and say so.

The contract every gridded module follows
-----------------------------------------
* Each module holds the **writer** used by the twin world to write demo files in the real
  product's format, and the **reader** used for real and demo files alike.
* Readers take a destination :class:`helpers.grid.Grid` (usually one tile of the product
  grid) and return ``xarray`` objects on it: dims (time, lat, lon) for time series (``time``
  = the dates of the files found; days without a file are absent), (lat, lon) for static
  fields. Values are float32 with NaN for missing or invalid data, after applying the
  files' scale_factor, add_offset and fill values.
* Readers read only the window they need (HDF4 slabs, NetCDF index slices, raster windows)
  with a margin of at least one source cell, wrapping across the antimeridian for global
  sources, then regrid: area-weighted mean from a finer source, bilinear interpolation from
  a coarser one.
* Cell grids (GLASS, MCD12C1) are global; their resolution is inferred from the array shape.
* Every failure raises :class:`helpers.errors.SourceError` whose message starts with the
  file or folder at fault and says what was expected: missing folder or file, truncated or
  corrupt file, missing variable, wrong units (Kelvin vs Celsius, fraction vs percent),
  an array shape that is not a global grid. A window with no valid data is not an error.

Import the module you need (``from helpers.sources import era5_land``); this package imports
none of them itself.
"""
