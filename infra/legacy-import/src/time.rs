//! Timestamps as legacy files hold them: ISO 8601 with or without a zone,
//! SQLite's `datetime()` text, RFC 2822, slashed dates, Unix seconds or
//! milliseconds. Times without a zone are read as UTC.

use chrono::{DateTime, NaiveDate, NaiveDateTime, TimeZone, Utc};

use crate::value::RawValue;

/// A timestamp read, with what the reader had to assume.
#[derive(Clone, Debug, PartialEq)]
pub struct ReadTime {
    pub at: DateTime<Utc>,
    pub assumption: Option<&'static str>,
}

const NAIVE_FORMATS: &[&str] = &[
    "%Y-%m-%d %H:%M:%S%.f",
    "%Y-%m-%dT%H:%M:%S%.f",
    "%Y-%m-%d %H:%M",
    "%Y-%m-%dT%H:%M",
    "%Y/%m/%d %H:%M:%S",
];

/// Milliseconds since 1970 start here (year 5138 in seconds).
const MILLIS_FROM: i64 = 100_000_000_000;

pub fn read(value: &RawValue) -> Option<ReadTime> {
    match value {
        RawValue::Integer(n) => from_unix(*n),
        RawValue::Real(r) if r.is_finite() => {
            // Seconds with a fraction, or milliseconds like integers.
            let micros = if r.abs() >= MILLIS_FROM as f64 {
                r * 1e3
            } else {
                r * 1e6
            };
            if micros.abs() >= i64::MAX as f64 {
                return None;
            }
            Utc.timestamp_micros(micros.round() as i64)
                .single()
                .map(|at| ReadTime {
                    at,
                    assumption: None,
                })
        }
        RawValue::Text(_) | RawValue::Blob(_) => value.as_text().and_then(|t| parse(&t.text)),
        _ => None,
    }
}

fn from_unix(n: i64) -> Option<ReadTime> {
    let at = if n.unsigned_abs() >= MILLIS_FROM.unsigned_abs() {
        Utc.timestamp_millis_opt(n).single()?
    } else {
        Utc.timestamp_opt(n, 0).single()?
    };
    Some(ReadTime {
        at,
        assumption: None,
    })
}

pub fn parse(text: &str) -> Option<ReadTime> {
    let text = text.trim();
    if text.is_empty() {
        return None;
    }
    let zoned = |at: DateTime<chrono::FixedOffset>| ReadTime {
        at: at.with_timezone(&Utc),
        assumption: None,
    };
    if let Ok(at) = DateTime::parse_from_rfc3339(text) {
        return Some(zoned(at));
    }
    if let Ok(at) = DateTime::parse_from_str(text, "%Y-%m-%d %H:%M:%S%.f%:z") {
        return Some(zoned(at));
    }
    if let Ok(at) = DateTime::parse_from_rfc2822(text) {
        return Some(zoned(at));
    }
    let naive = |at: NaiveDateTime| ReadTime {
        at: at.and_utc(),
        assumption: Some("no time zone; read as UTC"),
    };
    for format in NAIVE_FORMATS {
        if let Ok(at) = NaiveDateTime::parse_from_str(text, format) {
            return Some(naive(at));
        }
    }
    if let Ok(day) = NaiveDate::parse_from_str(text, "%Y-%m-%d") {
        return day.and_hms_opt(0, 0, 0).map(naive);
    }
    if let Some(read) = slashed(text) {
        return Some(read);
    }
    text.parse::<i64>().ok().and_then(from_unix)
}

/// `dd/mm/yyyy` or `mm/dd/yyyy`, with an optional `HH:MM[:SS]`: decided
/// by whichever part cannot be a month, else read as month first.
fn slashed(text: &str) -> Option<ReadTime> {
    let (date, time) = match text.split_once(' ') {
        Some((date, time)) => (date, Some(time.trim())),
        None => (text, None),
    };
    let parts: Vec<u32> = date
        .split('/')
        .map(|p| p.parse().ok())
        .collect::<Option<_>>()?;
    let [first, second, year] = parts[..] else {
        return None;
    };
    let (day, month, assumption) = if first > 12 {
        (first, second, "day first; no time zone, read as UTC")
    } else if second > 12 {
        (second, first, "month first; no time zone, read as UTC")
    } else {
        (
            second,
            first,
            "ambiguous day and month, read month first; no time zone, read as UTC",
        )
    };
    let date = NaiveDate::from_ymd_opt(i32::try_from(year).ok()?, month, day)?;
    let at = match time {
        None => date.and_hms_opt(0, 0, 0)?,
        Some(time) => {
            let time = chrono::NaiveTime::parse_from_str(time, "%H:%M:%S")
                .or_else(|_| chrono::NaiveTime::parse_from_str(time, "%H:%M"))
                .ok()?;
            date.and_time(time)
        }
    };
    Some(ReadTime {
        at: at.and_utc(),
        assumption: Some(assumption),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn utc(text: &str) -> Option<String> {
        parse(text).map(|r| r.at.to_rfc3339())
    }

    #[test]
    fn the_formats_legacy_files_hold() {
        let noon = Some("2015-03-04T12:30:00+00:00".to_owned());
        assert_eq!(utc("2015-03-04T12:30:00Z"), noon);
        assert_eq!(utc("2015-03-04T14:30:00+02:00"), noon);
        assert_eq!(utc("2015-03-04 12:30:00"), noon);
        assert_eq!(utc("2015-03-04 12:30:00.000"), noon);
        assert_eq!(utc("2015-03-04 12:30"), noon);
        assert_eq!(utc("Wed, 4 Mar 2015 12:30:00 +0000"), noon);
        assert_eq!(
            utc("04/03/2015 12:30"),
            Some("2015-04-03T12:30:00+00:00".into())
        );
        assert_eq!(utc("13/03/2015"), Some("2015-03-13T00:00:00+00:00".into()));
        assert_eq!(utc("03/13/2015"), Some("2015-03-13T00:00:00+00:00".into()));
        assert_eq!(utc("1425472200"), noon);
        assert_eq!(utc("2015-03-04"), Some("2015-03-04T00:00:00+00:00".into()));
        assert_eq!(
            read(&RawValue::Integer(1_425_472_200_000)).map(|r| r.at.to_rfc3339()),
            noon
        );
        assert_eq!(
            read(&RawValue::Real(1_425_472_200.0)).map(|r| r.at.to_rfc3339()),
            noon
        );
        assert_eq!(
            read(&RawValue::Real(1_425_472_200_000.0)).map(|r| r.at.to_rfc3339()),
            noon
        );
    }

    #[test]
    fn what_is_not_a_time() {
        for text in [
            "",
            "  ",
            "yesterday",
            "31/31/2015",
            "2015-13-01",
            "0x1f",
            "1/2",
        ] {
            assert_eq!(utc(text), None, "{text:?}");
        }
        assert_eq!(read(&RawValue::Null), None);
        assert_eq!(read(&RawValue::Real(f64::NAN)), None);
        assert_eq!(read(&RawValue::Real(f64::MAX)), None);
        assert_eq!(read(&RawValue::Integer(i64::MIN)), None);
        assert_eq!(read(&RawValue::Integer(i64::MAX)), None);
    }

    #[test]
    fn what_was_assumed_is_said() {
        assert_eq!(
            parse("2015-03-04T12:30:00Z").and_then(|r| r.assumption),
            None
        );
        assert!(
            parse("2015-03-04 12:30:00")
                .and_then(|r| r.assumption)
                .is_some()
        );
        assert!(
            parse("04/03/2015")
                .and_then(|r| r.assumption)
                .is_some_and(|a| a.starts_with("ambiguous"))
        );
    }
}
