//! Deciding whether a series is a counter (scored on its rate) or a gauge, from remote-write
//! metadata when the sender provides it, else from the metric name's suffix.

use std::collections::HashMap;

use bytes::Bytes;
use omen_scoring::SeriesKind;
use parking_lot::RwLock;

use crate::proto::MetricType;

/// Suffixes of series that count up: counters and the parts of classic histograms and summaries.
const COUNTER_SUFFIXES: [&[u8]; 4] = [b"_total", b"_count", b"_sum", b"_bucket"];
/// Suffixes that series of one histogram or summary family add to the family name.
const FAMILY_SUFFIXES: [&[u8]; 3] = [b"_count", b"_sum", b"_bucket"];

/// Metric types learnt from remote-write 1.0 metadata, by family name.
#[derive(Default)]
pub struct MetadataCache {
    types: RwLock<HashMap<Bytes, MetricType>>,
}

impl MetadataCache {
    /// Records the type of a family; returns the number of families known.
    pub fn learn(&self, entries: impl IntoIterator<Item = (Bytes, MetricType)>) -> usize {
        let mut types = self.types.write();
        for (family, metric_type) in entries {
            types.insert(family, metric_type);
        }
        types.len()
    }

    /// A read view for classifying the series of one request under one lock acquisition.
    pub fn view(&self) -> MetadataView<'_> {
        MetadataView {
            types: self.types.read(),
        }
    }
}

/// Read access to the metadata cache.
pub struct MetadataView<'a> {
    types: parking_lot::RwLockReadGuard<'a, HashMap<Bytes, MetricType>>,
}

impl MetadataView<'_> {
    /// The kind of a series from its declared type (2.0), the cached family type (1.0), or its name.
    pub fn kind(&self, metric_name: &[u8], declared: MetricType, use_suffixes: bool) -> SeriesKind {
        let known = match declared {
            MetricType::Unknown => self.family_type(metric_name),
            other => Some(other),
        };
        match known {
            Some(MetricType::Counter | MetricType::Histogram | MetricType::Summary) => {
                SeriesKind::Counter
            }
            Some(
                MetricType::Gauge
                | MetricType::GaugeHistogram
                | MetricType::Info
                | MetricType::StateSet,
            ) => SeriesKind::Gauge,
            Some(MetricType::Unknown) | None
                if use_suffixes && COUNTER_SUFFIXES.iter().any(|s| metric_name.ends_with(s)) =>
            {
                SeriesKind::Counter
            }
            _ => SeriesKind::Gauge,
        }
    }

    fn family_type(&self, metric_name: &[u8]) -> Option<MetricType> {
        if self.types.is_empty() {
            return None;
        }
        if let Some(t) = self.types.get(metric_name) {
            return Some(*t);
        }
        FAMILY_SUFFIXES.iter().find_map(|suffix| {
            let family = metric_name.strip_suffix(*suffix)?;
            match self.types.get(family) {
                Some(
                    t @ (MetricType::Histogram | MetricType::Summary | MetricType::GaugeHistogram),
                ) => Some(*t),
                _ => None,
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metadata_wins_over_suffixes() {
        let cache = MetadataCache::default();
        cache.learn([
            (Bytes::from_static(b"queue_total"), MetricType::Gauge),
            (
                Bytes::from_static(b"latency_seconds"),
                MetricType::Histogram,
            ),
            (Bytes::from_static(b"requests"), MetricType::Counter),
        ]);
        let view = cache.view();
        assert_eq!(
            view.kind(b"queue_total", MetricType::Unknown, true),
            SeriesKind::Gauge
        );
        assert_eq!(
            view.kind(b"latency_seconds_bucket", MetricType::Unknown, true),
            SeriesKind::Counter
        );
        assert_eq!(
            view.kind(b"requests", MetricType::Unknown, true),
            SeriesKind::Counter
        );
        assert_eq!(
            view.kind(b"errors_total", MetricType::Unknown, true),
            SeriesKind::Counter
        );
        assert_eq!(
            view.kind(b"errors_total", MetricType::Unknown, false),
            SeriesKind::Gauge
        );
        assert_eq!(
            view.kind(b"temperature", MetricType::Unknown, true),
            SeriesKind::Gauge
        );
        assert_eq!(
            view.kind(b"temperature", MetricType::Counter, true),
            SeriesKind::Counter
        );
    }
}
