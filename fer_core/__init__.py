"""FER Explorer engine: data, models, artifacts. No Streamlit import anywhere in this package."""

__version__ = "0.1.0"
