"""The Streamlit UI (trace explorer, feedback inbox, cohort reviews): not built yet."""
