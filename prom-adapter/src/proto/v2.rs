//! Remote write 2.0 (`io.prometheus.write.v2.Request`): strings interned in a symbols table.

use bytes::Bytes;

use super::v1::{Histogram, Sample};

/// A write request: a symbols table and series referring to it.
#[derive(Clone, PartialEq, prost::Message)]
pub struct Request {
    /// Interned strings; the first must be the empty string.
    #[prost(bytes = "bytes", repeated, tag = "4")]
    pub symbols: Vec<Bytes>,
    /// The series.
    #[prost(message, repeated, tag = "5")]
    pub timeseries: Vec<TimeSeries>,
}

/// One series of a 2.0 request.
#[derive(Clone, PartialEq, prost::Message)]
pub struct TimeSeries {
    /// Label pairs as indices into the symbols table: name, value, name, value, ...
    #[prost(uint32, repeated, tag = "1")]
    pub labels_refs: Vec<u32>,
    /// Float samples, oldest first.
    #[prost(message, repeated, tag = "2")]
    pub samples: Vec<Sample>,
    /// Native histogram samples, oldest first (same message as 1.0 plus custom bounds).
    #[prost(message, repeated, tag = "3")]
    pub histograms: Vec<Histogram>,
    /// Exemplars.
    #[prost(message, repeated, tag = "4")]
    pub exemplars: Vec<Exemplar>,
    /// Type, help and unit of the series.
    #[prost(message, optional, tag = "5")]
    pub metadata: Option<Metadata>,
    /// When the counter or histogram started counting (ms; 0 = unknown).
    #[prost(int64, tag = "6")]
    pub created_timestamp: i64,
}

/// An exemplar of a 2.0 request.
#[derive(Clone, PartialEq, prost::Message)]
pub struct Exemplar {
    /// Label pairs as symbol indices.
    #[prost(uint32, repeated, tag = "1")]
    pub labels_refs: Vec<u32>,
    /// The observed value.
    #[prost(double, tag = "2")]
    pub value: f64,
    /// Milliseconds since the Unix epoch.
    #[prost(int64, tag = "3")]
    pub timestamp: i64,
}

/// Series metadata of a 2.0 request.
#[derive(Clone, Copy, PartialEq, prost::Message)]
pub struct Metadata {
    /// Metric type.
    #[prost(enumeration = "super::MetricType", tag = "1")]
    pub r#type: i32,
    /// Help text as a symbol index.
    #[prost(uint32, tag = "3")]
    pub help_ref: u32,
    /// Unit as a symbol index.
    #[prost(uint32, tag = "4")]
    pub unit_ref: u32,
}
