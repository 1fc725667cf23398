"""TTFS with an exponentially decaying threshold (logarithmic time code).

Same layer-synchronous windows as ``tfsnn.cells.ttfs`` (see there), with the code

    g(k) = exp(-k / tau_theta),        tau_theta = tau_theta_frac * window

While a layer fires, its threshold decays exponentially, ``theta_k = theta g(k + 1/2)``,
so late, weak inputs still produce a spike before the window ends: a neuron with
``V / theta = a`` spikes once at ``k = round(-tau_theta ln a)``, for activations down to
``g(window - 1/2)`` (``exp(-1/0.2) ~ 0.7%`` with the default), instead of ``1/(2 window)``
for the linear code. The grid is geometric: relative precision ``exp(1/(2 tau_theta))`` is
the same for large and small activations. The next layer decodes with the matching
exponentially decaying synaptic kernel:

    V = b + sum_k g_in(k) (I_k - b),     s_k = [theta g(k + 1/2) <= V < theta g(k - 1/2)]

The window length is fixed at conversion, like for ``ttfs``: ``timesteps`` (default 100,
window = timesteps // (L + 1)) or ``window``; ``tau_theta`` (default 0.2) is the threshold's
time constant as a fraction of the window.
"""

from tfsnn.cells.base import define_cells
from tfsnn.cells.dynamics import TTFSDynamics
from tfsnn.cells.ttfs import SUPPORTED_KINDS, prepare_windows

DYNAMICS = TTFSDynamics("exp")
_cells = define_cells("ttfs_dyn_thresh", DYNAMICS)
IntegratorNeuronCell = _cells["IntegratorNeuronCell"]
LifNeuronCell = _cells["LifNeuronCell"]
LifNeuronCellConv2D = _cells["LifNeuronCellConv2D"]
LifNeuronCellAvgPool2D = _cells["LifNeuronCellAvgPool2D"]
LifNeuronCellMaxPool2D = _cells["LifNeuronCellMaxPool2D"]
CELLS = _cells
DEFAULTS = {"v_init": 0.0, "timesteps": 100, "window": None, "tau_theta": 0.2}

__all__ = ["IntegratorNeuronCell", "LifNeuronCell", "LifNeuronCellConv2D",
           "LifNeuronCellAvgPool2D", "LifNeuronCellMaxPool2D", "SUPPORTED_KINDS", "prepare"]


def prepare(specs, dyn_params):
    """Called by ``convert`` after normalization (see ``tfsnn.cells.ttfs.prepare_windows``)."""
    specs, dyn = prepare_windows(specs, dyn_params, "ttfs_dyn_thresh", DEFAULTS)
    dyn["tau_theta"] = float(dyn["tau_theta"])
    return specs, dyn
