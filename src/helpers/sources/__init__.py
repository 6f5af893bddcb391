"""Readers and writers of the input, target, mask and comparison products, one module per product.

Gridded products:

* ``glass_albedo``: GLASS AVHRR albedo (6 bands), 8-day, 0.05 deg CMG, HDF4 (input).
* ``glass_lst``: GLASS AVHRR land-surface temperature, daily, 0.05 deg CMG, HDF4 (input).
* ``glass_modis_sm``: GLASS-MODIS soil moisture, daily, 1 km sinusoidal GeoTIFF (target).
* ``era5_land``: ERA5-Land ``swvl1``, 0.1 deg nodes, hourly or daily, NetCDF or GRIB (input).
* ``merit_dem``: MERIT DEM elevation and derived slope, 5 x 5 deg GeoTIFF tiles (input).
* ``soilgrids``: SoilGrids 2.0 clay, sand, silt of 0-5 cm, GeoTIFF (input).
* ``mcd12c1``: MODIS MCD12C1 IGBP land cover, 0.05 deg CMG, HDF4 or GeoTIFF (masks).
* ``esa_cci``: ESA CCI SM COMBINED, daily, 0.25 deg, NetCDF (comparison).
* ``gleam``: GLEAM4 surface soil moisture ``SMs``, daily year files, 0.1 deg, NetCDF (comparison).
* ``sith``: SiTHv2 soil moisture ``SM`` (one of three layers), daily year files, 0.1 deg, NetCDF
  with non-CF ``"scale factor"`` / ``"Fill Value"`` (comparison).

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
* Files are found by a **pattern** (:class:`helpers.sources._files.FilePattern`: a glob under
  the product's folder with ``{year}``, ``{month}``, ``{day}``, ``{doy}``; ``**/`` takes year
  folders and flat folders alike). Each module's ``PATTERN`` is the provider's naming; params
  override it per product (``sources.patterns``). ERA5-Land, whose downloads users name, is
  indexed by the valid times inside its files, whatever their time cutting.
* Readers take a destination :class:`helpers.grid.Grid` (usually one tile of the product
  grid) and return ``xarray`` objects on it: dims (time, lat, lon) for time series, (lat,
  lon) for static fields. Values are float32 with NaN for missing or invalid data, after
  applying the files' scale_factor, add_offset and fill values; where a file carries no
  encoding, the params' ``sources.encodings`` give it, and without either the reader stops.
* **No silent loss.** The time axis holds every requested day (or 8-day composite). Where a
  product has real gaps (GLASS albedo and LST, GLASS-MODIS SM, ESA CCI), days without a file
  are all-NaN, listed in ``attrs["missing_days"]`` and logged as a warning naming the folder
  and the days. Continuous products (ERA5-Land, GLEAM, SiTH) must cover every requested day:
  a gap is an error naming the files and the days. A day held twice with different values,
  or a file on another grid than its siblings, is an error naming both files.
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
