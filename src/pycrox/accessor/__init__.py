"""The ``.pycro`` namespace on xarray objects. Delegation only: no logic lives here."""

from __future__ import annotations

from collections.abc import Hashable, Iterable
from typing import Any, Generic, TypeVar

import xarray as xr

from pycrox import model

Dims = Hashable | Iterable[Hashable] | None
_Obj = TypeVar("_Obj", bound=xr.DataArray | xr.Dataset | xr.DataTree)

__all__ = ["PycroCollectionAccessor", "PycroDataArrayAccessor"]


class _Pycro(Generic[_Obj]):
    def __init__(self, obj: _Obj) -> None:
        self._obj = obj  # the only state; never cache values derived from attrs

    def validate(self) -> list[str]:
        """List what keeps this object from being a valid pycrox object; see `pycrox.model.validate`."""
        return model.validate(self._obj)

    def to_zarr(self, store: Any, **kwargs: Any) -> None:
        """Write to a Zarr v3 store; see `pycrox.to_zarr`."""
        from pycrox import io

        io.to_zarr(self._obj, store, **kwargs)

    def to_netcdf(self, path: Any, **kwargs: Any) -> None:
        """Write to netCDF-4; see `pycrox.to_netcdf`."""
        from pycrox import io

        io.to_netcdf(self._obj, path, **kwargs)

    def to_nsid(self, path: Any, **kwargs: Any) -> None:
        """Write to NSID HDF5; see `pycrox.to_nsid`."""
        from pycrox import io

        io.to_nsid(self._obj, path, **kwargs)

    def to_usid(self, path: Any, **kwargs: Any) -> None:
        """Write to USID HDF5; see `pycrox.to_usid`."""
        from pycrox import io

        io.to_usid(self._obj, path, **kwargs)


@xr.register_dataarray_accessor("pycro")
class PycroDataArrayAccessor(_Pycro[xr.DataArray]):
    """pycrox methods on a DataArray, reached as ``da.pycro``."""

    @property
    def data_type(self) -> str:
        """The ``data_type`` attr (``"UNKNOWN"`` when missing)."""
        return str(self._obj.attrs.get("data_type", "UNKNOWN"))

    @property
    def dimension_types(self) -> dict[Any, str]:
        """``{dim: dimension_type}`` from the coordinates (``"UNKNOWN"`` where unset)."""
        return {
            d: str(self._obj[d].attrs.get("dimension_type", "UNKNOWN"))
            if d in self._obj.coords
            else "UNKNOWN"
            for d in self._obj.dims
        }

    @property
    def metadata(self) -> dict:
        """The nested ``metadata`` dict."""
        return self._obj.attrs.get("metadata", {})

    @property
    def original_metadata(self) -> dict:
        """The nested ``original_metadata`` dict (the file's own tags)."""
        return self._obj.attrs.get("original_metadata", {})

    @property
    def provenance(self) -> dict:
        """The nested ``provenance`` dict."""
        return self._obj.attrs.get("provenance", {})

    def quantify(self) -> xr.DataArray:
        """Data and coordinates as pint quantities; see `pycrox.units_xr.quantify`."""
        from pycrox import units_xr

        return units_xr.quantify(self._obj)

    def dequantify(self) -> xr.DataArray:
        """Back to plain arrays with ``units`` attrs; see `pycrox.units_xr.dequantify`."""
        from pycrox import units_xr

        return units_xr.dequantify(self._obj)

    def to_units(self, **units: str) -> xr.DataArray:
        """Convert coordinates (by dim name) or the data (``data=``); see `pycrox.units_xr.to_units`."""
        from pycrox import units_xr

        return units_xr.to_units(self._obj, **units)

    def fft(self, dim: Dims = None, **kwargs: Any) -> xr.DataArray:
        """Fourier transform with reciprocal coordinates; see `pycrox.analysis.fourier.fft`."""
        from pycrox.analysis import fourier

        return fourier.fft(self._obj, dim, **kwargs)

    def ifft(self, dim: Dims = None, **kwargs: Any) -> xr.DataArray:
        """Inverse Fourier transform back to the original coordinates; see `pycrox.analysis.fourier.ifft`."""
        from pycrox.analysis import fourier

        return fourier.ifft(self._obj, dim, **kwargs)

    def power_spectrum(self, dim: Dims = None, **kwargs: Any) -> xr.DataArray:
        """Squared magnitude of the Fourier transform; see `pycrox.analysis.fourier.power_spectrum`."""
        from pycrox.analysis import fourier

        return fourier.power_spectrum(self._obj, dim, **kwargs)

    def gaussian_filter(self, sigma: Any, dim: Dims = None, **kwargs: Any) -> xr.DataArray:
        """Gaussian smoothing with a width in physical units; see `pycrox.analysis.filters.gaussian_filter`."""
        from pycrox.analysis import filters

        return filters.gaussian_filter(self._obj, sigma, dim, **kwargs)

    def median_filter(self, size: Any, dim: Dims = None, **kwargs: Any) -> xr.DataArray:
        """Median filter over a window in physical units; see `pycrox.analysis.filters.median_filter`."""
        from pycrox.analysis import filters

        return filters.median_filter(self._obj, size, dim, **kwargs)

    def fourier_filter(self, dim: Dims = None, **kwargs: Any) -> xr.DataArray:
        """Low/high/band-pass by physical frequency; see `pycrox.analysis.filters.fourier_filter`."""
        from pycrox.analysis import filters

        return filters.fourier_filter(self._obj, dim, **kwargs)

    def remove_background(self, dim: Hashable | None = None, degree: int = 1, **kwargs: Any) -> xr.DataArray:
        """Subtract a polynomial background along a dim; see `pycrox.analysis.filters.remove_background`."""
        from pycrox.analysis import filters

        return filters.remove_background(self._obj, dim, degree, **kwargs)

    def level_plane(self, dim: Dims = None, **kwargs: Any) -> xr.DataArray:
        """Subtract each image's best-fit plane; see `pycrox.analysis.filters.level_plane`."""
        from pycrox.analysis import filters

        return filters.level_plane(self._obj, dim, **kwargs)

    def level_lines(self, dim: Hashable = "x", degree: int = 1) -> xr.DataArray:
        """Subtract a polynomial from every scan line; see `pycrox.analysis.filters.level_lines`."""
        from pycrox.analysis import filters

        return filters.level_lines(self._obj, dim, degree)

    def register(self, dim: Hashable = "frame", **kwargs: Any) -> xr.Dataset:
        """Drift-correct an image stack by phase correlation; see `pycrox.analysis.registration.register`."""
        from pycrox.analysis import registration

        return registration.register(self._obj, dim, **kwargs)

    def windows(self, size: Any, step: Any, dim: Dims = None) -> xr.DataArray:
        """Sliding windows as new ``window_<dim>`` dims; see `pycrox.analysis.windows.windows`."""
        from pycrox.analysis import windows

        return windows.windows(self._obj, size, step, dim)

    def reassemble(self, dim: Dims = None, **kwargs: Any) -> xr.DataArray:
        """Put windows back into one image; see `pycrox.analysis.windows.reassemble`."""
        from pycrox.analysis import windows

        return windows.reassemble(self._obj, dim, **kwargs)

    def find_atoms(self, **kwargs: Any) -> xr.Dataset:
        """Sub-pixel positions of bright atomic columns; see `pycrox.analysis.atoms.find_atoms`."""
        from pycrox.analysis import atoms

        return atoms.find_atoms(self._obj, **kwargs)

    def fft_spots(self, dim: Dims = None, **kwargs: Any) -> xr.Dataset:
        """Spots of the image's FFT in 1/nm with d-spacings; see `pycrox.analysis.spots.fft_spots`."""
        from pycrox.analysis import spots

        return spots.fft_spots(self._obj, dim, **kwargs)

    def spot_filter(self, spots: Any = None, dim: Dims = None, **kwargs: Any) -> xr.DataArray:
        """Keep the Fourier components near the FFT spots; see `pycrox.analysis.spots.spot_filter`."""
        from pycrox.analysis import spots as _spots

        return _spots.spot_filter(self._obj, spots, dim, **kwargs)

    def decompose(self, n_components: int, dim: Dims = None, **kwargs: Any) -> xr.Dataset:
        """Components and loadings (SVD, PCA, NMF, ICA); see `pycrox.analysis.decomposition.decompose`."""
        from pycrox.analysis import decomposition

        return decomposition.decompose(self._obj, n_components, dim, **kwargs)

    def denoise(self, n_components: int, dim: Dims = None) -> xr.DataArray:
        """Rebuild from the first SVD components; see `pycrox.analysis.decomposition.denoise`."""
        from pycrox.analysis import decomposition

        return decomposition.denoise(self._obj, n_components, dim)

    def cluster(self, n_clusters: int, dim: Dims = None, **kwargs: Any) -> xr.Dataset:
        """k-means label map and cluster means; see `pycrox.analysis.clustering.cluster`."""
        from pycrox.analysis import clustering

        return clustering.cluster(self._obj, n_clusters, dim, **kwargs)

    def fit(self, model: Any, dim: Hashable | None = None, **kwargs: Any) -> xr.Dataset:
        """Fit a model to every spectrum at once; see `pycrox.analysis.fitting.fit`."""
        from pycrox.analysis import fitting

        return fitting.fit(self._obj, model, dim, **kwargs)

    def plot(self, **kwargs: Any) -> Any:
        """Draw the picture its data type calls for; returns the matplotlib figure; see `pycrox.viz.plot`."""
        from pycrox import viz

        return viz.plot(self._obj, **kwargs)

    def explore(self, **kwargs: Any) -> Any:
        """An interactive viewer (click for spectra, sliders, regions); see `pycrox.viz.explore.explore`."""
        from pycrox.viz.explore import explore

        return explore(self._obj, **kwargs)

    @property
    def eels(self) -> Any:
        """Electron energy-loss spectroscopy tools (``da.pycro.eels.*``); see `pycrox.analysis.eels`."""
        from pycrox.accessor.eels import EELSNamespace

        return EELSNamespace(self._obj)

    @property
    def stem4d(self) -> Any:
        """4-D STEM tools (``da.pycro.stem4d.*``); see `pycrox.analysis.stem4d`."""
        from pycrox.accessor.stem4d import STEM4DNamespace

        return STEM4DNamespace(self._obj)

    @property
    def be(self) -> Any:
        """Band-excitation piezoresponse tools (``da.pycro.be.*``); see `pycrox.analysis.be`."""
        from pycrox.accessor.be import BENamespace

        return BENamespace(self._obj)

    @property
    def trefm(self) -> Any:
        """Time-resolved force microscopy tools (``da.pycro.trefm.*``); see `pycrox.analysis.trefm`."""
        from pycrox.accessor.trefm import TrEFMNamespace

        return TrEFMNamespace(self._obj)

    @property
    def spm(self) -> Any:
        """Scanning-probe corrections and statistics tools (``da.pycro.spm.*``); see `pycrox.analysis.spm`."""
        from pycrox.accessor.spm import SPMNamespace

        return SPMNamespace(self._obj)


@xr.register_dataset_accessor("pycro")
@xr.register_datatree_accessor("pycro")
class PycroCollectionAccessor(_Pycro[xr.Dataset | xr.DataTree]):
    """pycrox methods on a Dataset or DataTree, reached as ``ds.pycro`` / ``dt.pycro``."""
