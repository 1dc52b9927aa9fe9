"""OpenOVC: an open implementation of the HPE OmniStack (SimpliVity) REST API."""

__version__ = "0.1.0"
REST_API_VERSION = "1.25"
SVTFS_VERSION = "5.3.1.1100"
