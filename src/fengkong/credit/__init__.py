"""Credit risk: optimal binning and WOE, a points-scaled logistic scorecard with reason
codes and a calibrated PD, PSI/CSI monitoring, reject inference, and the offer policy
(risk tier, limit, price) with fraud signals as a second dimension."""

from fengkong.credit.binning import Bins, fit_bins
from fengkong.credit.data import Applicants, DataError, from_frame, read_csv
from fengkong.credit.scorecard import Reason, Scaling, Scorecard, Scored

__all__ = [
    "Applicants",
    "Bins",
    "DataError",
    "Reason",
    "Scaling",
    "Scorecard",
    "Scored",
    "fit_bins",
    "from_frame",
    "read_csv",
]
