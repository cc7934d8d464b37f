"""FER Explorer dashboard: `streamlit run dashboard/Home.py`. Shared UI in `dashboard.ui`; pages in `pages/`."""
