//! Alertmanager webhook receiver (work in progress, see issue 3).
