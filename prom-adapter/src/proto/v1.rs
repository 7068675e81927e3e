//! Remote write 1.0 (`prometheus.WriteRequest`).

use bytes::Bytes;

/// A write request: series with their samples, and/or metric metadata.
#[derive(Clone, PartialEq, prost::Message)]
pub struct WriteRequest {
    /// The series.
    #[prost(message, repeated, tag = "1")]
    pub timeseries: Vec<TimeSeries>,
    /// Metadata of metric families, sent on its own by Prometheus from time to time.
    #[prost(message, repeated, tag = "3")]
    pub metadata: Vec<MetricMetadata>,
}

/// One series: its labels and any samples, exemplars and native histograms.
#[derive(Clone, PartialEq, prost::Message)]
pub struct TimeSeries {
    /// Label pairs, sorted by name, `__name__` holding the metric name.
    #[prost(message, repeated, tag = "1")]
    pub labels: Vec<Label>,
    /// Float samples, oldest first.
    #[prost(message, repeated, tag = "2")]
    pub samples: Vec<Sample>,
    /// Exemplars attached to the samples.
    #[prost(message, repeated, tag = "3")]
    pub exemplars: Vec<Exemplar>,
    /// Native histogram samples, oldest first.
    #[prost(message, repeated, tag = "4")]
    pub histograms: Vec<Histogram>,
}

/// A label pair (text as raw bytes; see the module docs).
#[derive(Clone, PartialEq, Eq, Hash, prost::Message)]
pub struct Label {
    /// Label name.
    #[prost(bytes = "bytes", tag = "1")]
    pub name: Bytes,
    /// Label value.
    #[prost(bytes = "bytes", tag = "2")]
    pub value: Bytes,
}

/// A float sample.
#[derive(Clone, Copy, PartialEq, prost::Message)]
pub struct Sample {
    /// The value (NaN with bits 0x7ff0000000000002 is a staleness marker).
    #[prost(double, tag = "1")]
    pub value: f64,
    /// Milliseconds since the Unix epoch.
    #[prost(int64, tag = "2")]
    pub timestamp: i64,
}

/// An exemplar: an example observation, typically carrying a trace id.
#[derive(Clone, PartialEq, prost::Message)]
pub struct Exemplar {
    /// Exemplar labels.
    #[prost(message, repeated, tag = "1")]
    pub labels: Vec<Label>,
    /// The observed value.
    #[prost(double, tag = "2")]
    pub value: f64,
    /// Milliseconds since the Unix epoch.
    #[prost(int64, tag = "3")]
    pub timestamp: i64,
}

/// A native histogram sample (integer or float flavour).
#[derive(Clone, PartialEq, prost::Message)]
pub struct Histogram {
    /// Total observation count.
    #[prost(oneof = "HistogramCount", tags = "1, 2")]
    pub count: Option<HistogramCount>,
    /// Sum of observations.
    #[prost(double, tag = "3")]
    pub sum: f64,
    /// Bucket schema (-4..=8 exponential, -53 custom bounds).
    #[prost(sint32, tag = "4")]
    pub schema: i32,
    /// Width of the zero bucket.
    #[prost(double, tag = "5")]
    pub zero_threshold: f64,
    /// Observations in the zero bucket.
    #[prost(oneof = "HistogramZeroCount", tags = "6, 7")]
    pub zero_count: Option<HistogramZeroCount>,
    /// Spans of negative buckets.
    #[prost(message, repeated, tag = "8")]
    pub negative_spans: Vec<BucketSpan>,
    /// Delta-encoded integer counts of negative buckets.
    #[prost(sint64, repeated, tag = "9")]
    pub negative_deltas: Vec<i64>,
    /// Float counts of negative buckets.
    #[prost(double, repeated, tag = "10")]
    pub negative_counts: Vec<f64>,
    /// Spans of positive buckets.
    #[prost(message, repeated, tag = "11")]
    pub positive_spans: Vec<BucketSpan>,
    /// Delta-encoded integer counts of positive buckets.
    #[prost(sint64, repeated, tag = "12")]
    pub positive_deltas: Vec<i64>,
    /// Float counts of positive buckets.
    #[prost(double, repeated, tag = "13")]
    pub positive_counts: Vec<f64>,
    /// Counter-reset hint (0 unknown, 1 yes, 2 no, 3 gauge).
    #[prost(int32, tag = "14")]
    pub reset_hint: i32,
    /// Milliseconds since the Unix epoch.
    #[prost(int64, tag = "15")]
    pub timestamp: i64,
    /// Upper bounds of custom buckets (schema -53).
    #[prost(double, repeated, tag = "16")]
    pub custom_values: Vec<f64>,
}

/// Total count of a histogram: integer or float.
#[derive(Clone, Copy, PartialEq, prost::Oneof)]
pub enum HistogramCount {
    /// Integer histogram.
    #[prost(uint64, tag = "1")]
    Int(u64),
    /// Float histogram.
    #[prost(double, tag = "2")]
    Float(f64),
}

/// Zero-bucket count of a histogram: integer or float.
#[derive(Clone, Copy, PartialEq, prost::Oneof)]
pub enum HistogramZeroCount {
    /// Integer histogram.
    #[prost(uint64, tag = "6")]
    Int(u64),
    /// Float histogram.
    #[prost(double, tag = "7")]
    Float(f64),
}

/// A run of consecutive buckets.
#[derive(Clone, Copy, PartialEq, prost::Message)]
pub struct BucketSpan {
    /// Gap to the previous span (or start index for the first).
    #[prost(sint32, tag = "1")]
    pub offset: i32,
    /// Number of buckets in the span.
    #[prost(uint32, tag = "2")]
    pub length: u32,
}

/// Metadata of one metric family.
#[derive(Clone, PartialEq, prost::Message)]
pub struct MetricMetadata {
    /// Metric type.
    #[prost(enumeration = "super::MetricType", tag = "1")]
    pub r#type: i32,
    /// Metric family name.
    #[prost(bytes = "bytes", tag = "2")]
    pub metric_family_name: Bytes,
    /// Help text.
    #[prost(bytes = "bytes", tag = "4")]
    pub help: Bytes,
    /// Unit.
    #[prost(bytes = "bytes", tag = "5")]
    pub unit: Bytes,
}
