//! Reading CMF snapshots (`formats/cmf-snapshot.md`): opening a file or
//! standard input, gzip by magic bytes, line splitting that survives invalid
//! UTF-8 and a byte-order mark, and the validation of one line into a
//! [`Header`] plus its not-yet-parsed software list.
//!
//! Parsing is split in two so the pipeline can decide whether a report wins
//! before it builds the (large) software list: [`parse_line`] validates the
//! small fields and keeps `software` as raw JSON (checked for syntax only);
//! [`parse_software`] reads it. A report that does not win is never stored,
//! so its software list is not read and its entries count no warnings.

use std::fs::File;
use std::io::{self, BufRead, BufReader, Read};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use chrono::{DateTime, Duration, NaiveDate, Utc};
use serde::Deserialize;
use serde_json::value::RawValue;
use winventory_core::{OsInfo, SoftwareEntry, normalize_login};

/// A byte counter shared with a progress display.
#[derive(Debug, Clone, Default)]
pub struct ByteCounter(Arc<AtomicU64>);

impl ByteCounter {
    /// Bytes read so far (compressed bytes for a gzip file).
    pub fn get(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }
}

struct Counting<R> {
    inner: R,
    count: ByteCounter,
}

impl<R: Read> Read for Counting<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.count.0.fetch_add(n as u64, Ordering::Relaxed);
        Ok(n)
    }
}

/// An opened snapshot.
pub struct Input {
    /// The path as given (`-` for standard input).
    pub name: String,
    /// Size on disk, when known (for progress).
    pub len: Option<u64>,
    /// Bytes read so far.
    pub counter: ByteCounter,
    /// Whether the input is gzip-compressed.
    pub gzip: bool,
    reader: Box<dyn BufRead + Send>,
}

impl std::fmt::Debug for Input {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Input")
            .field("name", &self.name)
            .field("gzip", &self.gzip)
            .finish()
    }
}

impl Input {
    /// Open `path` (`-` is standard input), recognising gzip by its magic bytes.
    pub fn open(path: &str) -> io::Result<Self> {
        let (raw, len): (Box<dyn Read + Send>, Option<u64>) = if path == "-" {
            (Box::new(io::stdin()), None)
        } else {
            let f = File::open(path)?;
            let len = f.metadata().ok().map(|m| m.len());
            (Box::new(f), len)
        };
        Self::from_reader(path, raw, len)
    }

    /// Wrap any reader (tests, other sources).
    pub fn from_reader(
        name: &str,
        raw: Box<dyn Read + Send>,
        len: Option<u64>,
    ) -> io::Result<Self> {
        let counter = ByteCounter::default();
        let mut buffered = BufReader::with_capacity(
            256 * 1024,
            Counting {
                inner: raw,
                count: counter.clone(),
            },
        );
        let head = buffered.fill_buf()?;
        let gzip = head.len() >= 2 && head[0] == 0x1f && head[1] == 0x8b;
        let reader: Box<dyn BufRead + Send> = if gzip {
            Box::new(BufReader::with_capacity(
                256 * 1024,
                flate2::bufread::MultiGzDecoder::new(buffered),
            ))
        } else {
            Box::new(buffered)
        };
        Ok(Self {
            name: name.to_string(),
            len,
            counter,
            gzip,
            reader,
        })
    }

    /// Read the next physical line into `buf` (without its line ending).
    /// A line longer than [`MAX_LINE_BYTES`] is skipped whole and reported as
    /// [`ReadLine::TooLong`], so one corrupt line cannot exhaust memory.
    pub fn next_line(&mut self, buf: &mut Vec<u8>) -> io::Result<ReadLine> {
        buf.clear();
        let mut any = false;
        let mut too_long = false;
        loop {
            let avail = self.reader.fill_buf()?;
            if avail.is_empty() {
                break;
            }
            any = true;
            let newline = memchr::memchr(b'\n', avail);
            let part = &avail[..newline.unwrap_or(avail.len())];
            if !too_long {
                if buf.len() + part.len() > MAX_LINE_BYTES {
                    too_long = true;
                    buf.clear();
                } else {
                    buf.extend_from_slice(part);
                }
            }
            let used = newline.map_or(avail.len(), |i| i + 1);
            self.reader.consume(used);
            if newline.is_some() {
                break;
            }
        }
        if !any {
            return Ok(ReadLine::End);
        }
        if too_long {
            return Ok(ReadLine::TooLong);
        }
        if buf.last() == Some(&b'\r') {
            buf.pop();
        }
        Ok(ReadLine::Line)
    }
}

/// The longest line read (16 MiB; a machine with thousands of programs
/// takes well under 1 MiB).
pub const MAX_LINE_BYTES: usize = 16 * 1024 * 1024;

/// The longest `hostname` or `domain` (a DNS name's limit), in bytes; the
/// lower-cased hostname (the machine's identity) is held to it too.
pub const MAX_HOSTNAME_BYTES: usize = 253;
/// The longest `main_user` or `responsible`, in bytes.
pub const MAX_LOGIN_BYTES: usize = 256;
/// The longest `os.caption`, in bytes.
pub const MAX_CAPTION_BYTES: usize = 512;
/// The longest `os.version`, `os.display_version`, `os.edition` or
/// `os.architecture`, in bytes.
pub const MAX_OS_FIELD_BYTES: usize = 128;
/// The most software entries a line may hold.
pub const MAX_SOFTWARE_ENTRIES: usize = 20_000;
/// The longest software `name` or `publisher`, in bytes.
pub const MAX_SOFTWARE_NAME_BYTES: usize = 1024;
/// The longest software `version`, in bytes.
pub const MAX_SOFTWARE_VERSION_BYTES: usize = 256;

/// What [`Input::next_line`] found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReadLine {
    /// A line is in the buffer.
    Line,
    /// A line longer than [`MAX_LINE_BYTES`] was skipped.
    TooLong,
    /// The end of the input.
    End,
}

/// The validated small fields of one line.
#[derive(Debug, Clone, PartialEq)]
pub struct Header {
    /// Hostname as reported (trimmed).
    pub hostname: String,
    /// Domain.
    pub domain: Option<String>,
    /// When the report was taken.
    pub collected_at: DateTime<Utc>,
    /// OS facts.
    pub os: OsInfo,
    /// `main_user`, normalised.
    pub main_user: Option<String>,
    /// `responsible`, normalised.
    pub responsible: Option<String>,
}

/// A line that passed validation: its header, warnings so far, and the raw
/// software list (absent or `null`: `None`).
#[derive(Debug)]
pub struct ParsedLine<'a> {
    /// Validated fields.
    pub header: Header,
    /// Warnings counted on the small fields.
    pub warnings: u32,
    /// The `software` value, unparsed.
    pub software: Option<&'a RawValue>,
}

#[derive(Deserialize)]
struct RawLine<'a> {
    #[serde(default, borrow)]
    hostname: Option<&'a RawValue>,
    #[serde(default, borrow)]
    domain: Option<&'a RawValue>,
    #[serde(default, borrow)]
    collected_at: Option<&'a RawValue>,
    #[serde(default, borrow)]
    os: Option<&'a RawValue>,
    #[serde(default, borrow)]
    main_user: Option<&'a RawValue>,
    #[serde(default, borrow)]
    responsible: Option<&'a RawValue>,
    #[serde(default, borrow)]
    software: Option<&'a RawValue>,
}

#[derive(Deserialize)]
struct RawOs<'a> {
    #[serde(default, borrow)]
    caption: Option<&'a RawValue>,
    #[serde(default, borrow)]
    version: Option<&'a RawValue>,
    #[serde(default, borrow)]
    display_version: Option<&'a RawValue>,
    #[serde(default, borrow)]
    edition: Option<&'a RawValue>,
    #[serde(default, borrow)]
    product_type: Option<&'a RawValue>,
    #[serde(default, borrow)]
    architecture: Option<&'a RawValue>,
}

/// The value of a field, by JSON type.
enum Field<'a> {
    Absent,
    Str(std::borrow::Cow<'a, str>),
    /// A string holding a NUL character, which no database column takes.
    Nul,
    Other,
}

fn field<'a>(v: Option<&'a RawValue>) -> Field<'a> {
    match v {
        None => Field::Absent,
        Some(raw) => {
            let t = raw.get();
            if t == "null" {
                Field::Absent
            } else if t.starts_with('"') {
                // Most strings have no escapes and borrow; the rest are decoded.
                let s = match serde_json::from_str::<&str>(t) {
                    Ok(b) => std::borrow::Cow::Borrowed(b),
                    Err(_) => match serde_json::from_str::<String>(t) {
                        Ok(s) => std::borrow::Cow::Owned(s),
                        Err(_) => return Field::Other,
                    },
                };
                if s.contains('\0') {
                    Field::Nul
                } else {
                    Field::Str(s)
                }
            } else {
                Field::Other
            }
        }
    }
}

fn required(v: Option<&RawValue>, name: &str) -> Result<String, String> {
    match field(v) {
        Field::Absent => Err(format!("field `{name}` is missing")),
        Field::Other => Err(format!("field `{name}` must be a string")),
        Field::Nul => Err(format!("field `{name}` contains a NUL character")),
        Field::Str(s) if s.trim().is_empty() => Err(format!("field `{name}` is empty")),
        Field::Str(s) => Ok(s.trim().to_string()),
    }
}

fn optional(v: Option<&RawValue>, warnings: &mut u32) -> Option<String> {
    match field(v) {
        Field::Absent => None,
        Field::Other | Field::Nul => {
            *warnings += 1;
            None
        }
        Field::Str(s) => {
            let s = s.trim();
            (!s.is_empty()).then(|| s.to_string())
        }
    }
}

/// A field over its limit rejects the line, naming the field.
fn within(name: &str, v: &str, max: usize) -> Result<(), String> {
    if v.len() > max {
        Err(format!(
            "field `{name}` is {} bytes long; the format allows at most {max}",
            v.len()
        ))
    } else {
        Ok(())
    }
}

/// An optional field, treated as absent when of the wrong type (a warning),
/// rejecting the line when longer than `max` bytes.
fn optional_within(
    v: Option<&RawValue>,
    warnings: &mut u32,
    name: &str,
    max: usize,
) -> Result<Option<String>, String> {
    let s = optional(v, warnings);
    if let Some(s) = &s {
        within(name, s, max)?;
    }
    Ok(s)
}

/// An owner's login: as [`optional_within`], normalised, and held to the
/// limit once lower-cased too.
fn login_within(
    v: Option<&RawValue>,
    warnings: &mut u32,
    name: &str,
) -> Result<Option<String>, String> {
    let login =
        optional_within(v, warnings, name, MAX_LOGIN_BYTES)?.and_then(|l| normalize_login(&l));
    if let Some(l) = &login {
        within(name, l, MAX_LOGIN_BYTES)?;
    }
    Ok(login)
}

/// The number of elements of a JSON array (already checked for syntax).
fn array_len(raw: &RawValue) -> usize {
    struct Count(usize);
    impl<'de> Deserialize<'de> for Count {
        fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
            struct V;
            impl<'de> serde::de::Visitor<'de> for V {
                type Value = Count;
                fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                    f.write_str("an array")
                }
                fn visit_seq<A: serde::de::SeqAccess<'de>>(
                    self,
                    mut a: A,
                ) -> Result<Count, A::Error> {
                    let mut n = 0;
                    while a.next_element::<serde::de::IgnoredAny>()?.is_some() {
                        n += 1;
                    }
                    Ok(Count(n))
                }
            }
            d.deserialize_seq(V)
        }
    }
    serde_json::from_str::<Count>(raw.get()).map_or(0, |c| c.0)
}

/// Validate one line (already known to be non-blank) against the format.
/// `now` is the ingest's clock. `Err` carries the reason the line is rejected.
pub fn parse_line<'a>(text: &'a str, now: DateTime<Utc>) -> Result<ParsedLine<'a>, String> {
    let trimmed = text.trim_start();
    if !trimmed.starts_with('{') {
        return Err(match serde_json::from_str::<serde::de::IgnoredAny>(text) {
            Ok(_) => "not a JSON object".to_string(),
            Err(e) => format!("not valid JSON: {e}"),
        });
    }
    let raw: RawLine<'a> =
        serde_json::from_str(text).map_err(|e| format!("not valid JSON: {e}"))?;
    let mut warnings = 0;
    let hostname = required(raw.hostname, "hostname")?;
    within("hostname", &hostname, MAX_HOSTNAME_BYTES)?;
    let key_len = winventory_core::HostKey::new(&hostname).as_str().len();
    if key_len > MAX_HOSTNAME_BYTES {
        return Err(format!(
            "field `hostname` is {key_len} bytes long once lower-cased; the format allows at most {MAX_HOSTNAME_BYTES}"
        ));
    }
    let collected = required(raw.collected_at, "collected_at")?;
    let collected_at = DateTime::parse_from_rfc3339(&collected)
        .map_err(|_| format!("field `collected_at` is not an RFC 3339 time: {collected:?}"))?
        .with_timezone(&Utc);
    if collected_at > now + Duration::hours(24) {
        return Err(format!(
            "field `collected_at` ({collected}) is more than 24 hours after the ingest's clock"
        ));
    }
    let os_raw = raw.os.ok_or("field `os` is missing")?;
    if !os_raw.get().starts_with('{') {
        return Err("field `os` must be an object".into());
    }
    let os: RawOs<'_> =
        serde_json::from_str(os_raw.get()).map_err(|e| format!("field `os`: {e}"))?;
    let caption = required(os.caption, "os.caption")?;
    within("os.caption", &caption, MAX_CAPTION_BYTES)?;
    let version = required(os.version, "os.version")?;
    within("os.version", &version, MAX_OS_FIELD_BYTES)?;
    let product_type = match os.product_type.map(RawValue::get) {
        None | Some("null") => None,
        Some(t) => match t.parse::<i64>() {
            Ok(n) => Some(n),
            Err(_) => {
                warnings += 1;
                None
            }
        },
    };
    let os = OsInfo {
        caption,
        version,
        display_version: optional_within(
            os.display_version,
            &mut warnings,
            "os.display_version",
            MAX_OS_FIELD_BYTES,
        )?,
        edition: optional_within(os.edition, &mut warnings, "os.edition", MAX_OS_FIELD_BYTES)?,
        product_type,
        architecture: optional_within(
            os.architecture,
            &mut warnings,
            "os.architecture",
            MAX_OS_FIELD_BYTES,
        )?,
    };
    let header = Header {
        hostname,
        domain: optional_within(raw.domain, &mut warnings, "domain", MAX_HOSTNAME_BYTES)?,
        collected_at,
        os,
        main_user: login_within(raw.main_user, &mut warnings, "main_user")?,
        responsible: login_within(raw.responsible, &mut warnings, "responsible")?,
    };
    let software = match raw.software {
        Some(s) if s.get() == "null" => None,
        Some(s) if !s.get().starts_with('[') => {
            warnings += 1;
            None
        }
        other => other,
    };
    // An array of n elements takes at least 2n + 1 bytes: only a list long
    // enough to break the limit is counted (the common line is not read twice).
    if let Some(s) = software
        && s.get().len() > 2 * MAX_SOFTWARE_ENTRIES + 1
    {
        let n = array_len(s);
        if n > MAX_SOFTWARE_ENTRIES {
            return Err(format!(
                "field `software` has {n} entries; the format allows at most {MAX_SOFTWARE_ENTRIES}"
            ));
        }
    }
    Ok(ParsedLine {
        header,
        warnings,
        software,
    })
}

/// `YYYYMMDD` or `YYYY-MM-DD`.
/// Dates outside years 1-9999 are not dates any database column takes.
fn plausible(d: NaiveDate) -> bool {
    (1..=9999).contains(&chrono::Datelike::year(&d))
}

/// `YYYYMMDD` or `YYYY-MM-DD`, years 1 to 9999.
pub fn parse_install_date(s: &str) -> Option<NaiveDate> {
    let s = s.trim();
    let b = s.as_bytes();
    let digits = |r: std::ops::Range<usize>| -> Option<u32> {
        b[r].iter().try_fold(0u32, |n, &c| {
            c.is_ascii_digit().then(|| n * 10 + u32::from(c - b'0'))
        })
    };
    let ymd = match b.len() {
        8 => (digits(0..4), digits(4..6), digits(6..8)),
        10 if b[4] == b'-' && b[7] == b'-' => (digits(0..4), digits(5..7), digits(8..10)),
        _ => (None, None, None),
    };
    let d = match ymd {
        (Some(y), Some(m), Some(d)) => NaiveDate::from_ymd_opt(y as i32, m, d),
        _ => None,
    };
    d.filter(|d| plausible(*d))
}

/// An RFC 3339 time, or a date (taken as its start, UTC).
pub fn parse_last_used(s: &str) -> Option<DateTime<Utc>> {
    let s = s.trim();
    let t = DateTime::parse_from_rfc3339(s)
        .map(|t| t.with_timezone(&Utc))
        .ok()
        .or_else(|| {
            NaiveDate::parse_from_str(s, "%Y-%m-%d")
                .ok()
                .and_then(|d| d.and_hms_opt(0, 0, 0))
                .map(|t| t.and_utc())
        });
    t.filter(|t| plausible(t.date_naive()))
}

/// One value of a software entry's field, read in the same pass as the
/// array (no intermediate [`RawValue`]): a string borrows the line unless it
/// has escapes; any other JSON type is noted, and skipped without allocating.
enum Loose<'a> {
    Null,
    Str(std::borrow::Cow<'a, str>),
    Other,
}

impl<'de> Deserialize<'de> for Loose<'de> {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> serde::de::Visitor<'de> for V {
            type Value = Loose<'de>;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("any JSON value")
            }
            fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Self::Value, E> {
                Ok(Loose::Str(std::borrow::Cow::Borrowed(v)))
            }
            fn visit_str<E>(self, v: &str) -> Result<Self::Value, E> {
                Ok(Loose::Str(std::borrow::Cow::Owned(v.to_string())))
            }
            fn visit_string<E>(self, v: String) -> Result<Self::Value, E> {
                Ok(Loose::Str(std::borrow::Cow::Owned(v)))
            }
            fn visit_unit<E>(self) -> Result<Self::Value, E> {
                Ok(Loose::Null)
            }
            fn visit_none<E>(self) -> Result<Self::Value, E> {
                Ok(Loose::Null)
            }
            fn visit_bool<E>(self, _: bool) -> Result<Self::Value, E> {
                Ok(Loose::Other)
            }
            fn visit_i64<E>(self, _: i64) -> Result<Self::Value, E> {
                Ok(Loose::Other)
            }
            fn visit_u64<E>(self, _: u64) -> Result<Self::Value, E> {
                Ok(Loose::Other)
            }
            fn visit_f64<E>(self, _: f64) -> Result<Self::Value, E> {
                Ok(Loose::Other)
            }
            fn visit_seq<A: serde::de::SeqAccess<'de>>(
                self,
                mut a: A,
            ) -> Result<Self::Value, A::Error> {
                while a.next_element::<serde::de::IgnoredAny>()?.is_some() {}
                Ok(Loose::Other)
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                mut a: A,
            ) -> Result<Self::Value, A::Error> {
                while a
                    .next_entry::<serde::de::IgnoredAny, serde::de::IgnoredAny>()?
                    .is_some()
                {}
                Ok(Loose::Other)
            }
        }
        d.deserialize_any(V)
    }
}

impl<'a> Loose<'a> {
    /// As a [`Field`] (`None` is an absent key).
    fn field(v: Option<Self>) -> Field<'a> {
        match v {
            None | Some(Loose::Null) => Field::Absent,
            Some(Loose::Other) => Field::Other,
            Some(Loose::Str(s)) if s.contains('\0') => Field::Nul,
            Some(Loose::Str(s)) => Field::Str(s),
        }
    }
}

/// One element of a `software` array: an object's known fields, or not an
/// object (or an object naming a field twice), which is dropped with a warning.
enum Element<'a> {
    Entry {
        name: Field<'a>,
        version: Field<'a>,
        publisher: Field<'a>,
        install_date: Field<'a>,
        last_used: Field<'a>,
    },
    Invalid,
}

impl<'de> Deserialize<'de> for Element<'de> {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> serde::de::Visitor<'de> for V {
            type Value = Element<'de>;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a software entry")
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                mut a: A,
            ) -> Result<Self::Value, A::Error> {
                let mut fields: [Option<Loose<'de>>; 5] = Default::default();
                let mut duplicate = false;
                while let Some(key) = a.next_key::<std::borrow::Cow<'de, str>>()? {
                    let slot = match key.as_ref() {
                        "name" => 0,
                        "version" => 1,
                        "publisher" => 2,
                        "install_date" => 3,
                        "last_used" => 4,
                        _ => {
                            a.next_value::<serde::de::IgnoredAny>()?;
                            continue;
                        }
                    };
                    let v = a.next_value::<Loose<'de>>()?;
                    duplicate |= fields[slot].replace(v).is_some();
                }
                if duplicate {
                    return Ok(Element::Invalid);
                }
                let [name, version, publisher, install_date, last_used] = fields.map(Loose::field);
                Ok(Element::Entry {
                    name,
                    version,
                    publisher,
                    install_date,
                    last_used,
                })
            }
            fn visit_seq<A: serde::de::SeqAccess<'de>>(
                self,
                mut a: A,
            ) -> Result<Self::Value, A::Error> {
                while a.next_element::<serde::de::IgnoredAny>()?.is_some() {}
                Ok(Element::Invalid)
            }
            fn visit_borrowed_str<E>(self, _: &'de str) -> Result<Self::Value, E> {
                Ok(Element::Invalid)
            }
            fn visit_str<E>(self, _: &str) -> Result<Self::Value, E> {
                Ok(Element::Invalid)
            }
            fn visit_unit<E>(self) -> Result<Self::Value, E> {
                Ok(Element::Invalid)
            }
            fn visit_bool<E>(self, _: bool) -> Result<Self::Value, E> {
                Ok(Element::Invalid)
            }
            fn visit_i64<E>(self, _: i64) -> Result<Self::Value, E> {
                Ok(Element::Invalid)
            }
            fn visit_u64<E>(self, _: u64) -> Result<Self::Value, E> {
                Ok(Element::Invalid)
            }
            fn visit_f64<E>(self, _: f64) -> Result<Self::Value, E> {
                Ok(Element::Invalid)
            }
        }
        d.deserialize_any(V)
    }
}

fn optional_field(f: Field<'_>, warnings: &mut u32) -> Option<String> {
    match f {
        Field::Absent => None,
        Field::Other | Field::Nul => {
            *warnings += 1;
            None
        }
        Field::Str(s) => {
            let s = s.trim();
            (!s.is_empty()).then(|| s.to_string())
        }
    }
}

/// Read a raw `software` array in one pass. Entries without a name, or
/// whose `name` or `publisher` is longer than 1,024 bytes or `version`
/// longer than 256, are dropped and counted as warnings, as are optional
/// fields of the wrong type (treated as absent).
pub fn parse_software(raw: &RawValue) -> (Vec<SoftwareEntry>, u32) {
    let mut warnings = 0;
    let elements: Vec<Element<'_>> = match serde_json::from_str(raw.get()) {
        Ok(v) => v,
        Err(_) => return (Vec::new(), 1),
    };
    let mut out = Vec::with_capacity(elements.len());
    for e in elements {
        let Element::Entry {
            name,
            version,
            publisher,
            install_date,
            last_used,
        } = e
        else {
            warnings += 1;
            continue;
        };
        let name = match name {
            Field::Str(s) if !s.trim().is_empty() => s,
            _ => {
                warnings += 1;
                continue;
            }
        };
        let version = optional_field(version, &mut warnings);
        let publisher = optional_field(publisher, &mut warnings);
        // Over its limit, the entry is dropped (a warning); the machine is kept.
        if name.trim().len() > MAX_SOFTWARE_NAME_BYTES
            || publisher
                .as_ref()
                .is_some_and(|p| p.len() > MAX_SOFTWARE_NAME_BYTES)
            || version
                .as_ref()
                .is_some_and(|v| v.len() > MAX_SOFTWARE_VERSION_BYTES)
        {
            warnings += 1;
            continue;
        }
        let install_date = match install_date {
            Field::Absent => None,
            Field::Other | Field::Nul => {
                warnings += 1;
                None
            }
            Field::Str(s) => {
                let d = parse_install_date(&s);
                if d.is_none() && !s.trim().is_empty() {
                    warnings += 1;
                }
                d
            }
        };
        let last_used = match last_used {
            Field::Absent => None,
            Field::Other | Field::Nul => {
                warnings += 1;
                None
            }
            Field::Str(s) => {
                let t = parse_last_used(&s);
                if t.is_none() {
                    warnings += 1;
                }
                t
            }
        };
        out.push(SoftwareEntry {
            name: name.trim().to_string(),
            version: version.unwrap_or_default(),
            publisher: publisher.unwrap_or_default(),
            install_date,
            last_used,
        });
    }
    (out, warnings)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn now() -> DateTime<Utc> {
        DateTime::parse_from_rfc3339("2026-11-27T12:00:00Z")
            .expect("t")
            .with_timezone(&Utc)
    }

    const GOOD: &str = r#"{"hostname": "PCITCDA042", "domain": "CERN", "collected_at": "2026-11-26T02:14:09Z", "os": {"caption": "Microsoft Windows Server 2008 R2 Enterprise", "version": "6.1.7601", "display_version": null, "edition": "ServerEnterprise", "product_type": 3, "architecture": "64-bit"}, "main_user": "jdoe", "responsible": null, "software": [{"name": "Microsoft Office Professional Plus 2016", "version": "16.0.4266.1001", "publisher": "Microsoft Corporation", "install_date": "20190302"}, {"name": "Python 3.8.10 (64-bit)", "version": "3.8.10", "publisher": "Python Software Foundation", "install_date": null}], "extra": {"ignored": true}}"#;

    #[test]
    fn the_format_files_example_line_is_accepted_with_every_field() {
        let p = parse_line(GOOD, now()).expect("valid");
        assert_eq!(p.header.hostname, "PCITCDA042");
        assert_eq!(p.header.os.product_type, Some(3));
        assert_eq!(p.header.main_user.as_deref(), Some("jdoe"));
        assert_eq!(p.header.responsible, None);
        assert_eq!(p.warnings, 0);
        let (sw, w) = parse_software(p.software.expect("software"));
        assert_eq!(w, 0);
        assert_eq!(sw.len(), 2);
        assert_eq!(sw[0].install_date, NaiveDate::from_ymd_opt(2019, 3, 2));
    }

    #[test]
    fn lines_that_break_the_format_are_rejected_with_a_reason() {
        let cases = [
            ("not json", "not valid JSON"),
            ("[1, 2]", "not a JSON object"),
            ("42", "not a JSON object"),
            (
                r#"{"collected_at": "2026-11-26T02:14:09Z", "os": {"caption": "x", "version": "1"}}"#,
                "`hostname` is missing",
            ),
            (
                r#"{"hostname": "", "collected_at": "2026-11-26T02:14:09Z", "os": {"caption": "x", "version": "1"}}"#,
                "`hostname` is empty",
            ),
            (
                r#"{"hostname": 7, "collected_at": "2026-11-26T02:14:09Z", "os": {"caption": "x", "version": "1"}}"#,
                "`hostname` must be a string",
            ),
            (
                r#"{"hostname": "a", "collected_at": "yesterday", "os": {"caption": "x", "version": "1"}}"#,
                "RFC 3339",
            ),
            (
                r#"{"hostname": "a", "collected_at": "2026-11-29T12:00:01Z", "os": {"caption": "x", "version": "1"}}"#,
                "more than 24 hours",
            ),
            (
                r#"{"hostname": "a", "collected_at": "2026-11-26T02:14:09Z"}"#,
                "`os` is missing",
            ),
            (
                r#"{"hostname": "a", "collected_at": "2026-11-26T02:14:09Z", "os": {"version": "1"}}"#,
                "`os.caption` is missing",
            ),
            (
                r#"{"hostname": "a", "collected_at": "2026-11-26T02:14:09Z", "os": {"caption": "x", "version": 10}}"#,
                "`os.version` must be a string",
            ),
        ];
        for (line, want) in cases {
            let e = parse_line(line, now()).expect_err(line);
            assert!(e.contains(want), "{line}: {e}");
        }
    }

    #[test]
    fn optional_fields_of_the_wrong_type_are_warnings_not_rejections() {
        let line = r#"{"hostname": "a", "collected_at": "2026-11-26T02:14:09Z", "os": {"caption": "x", "version": "1", "product_type": "3"}, "main_user": 5, "software": "x"}"#;
        let p = parse_line(line, now()).expect("kept");
        assert_eq!(p.header.os.product_type, None);
        assert_eq!(p.header.main_user, None);
        assert!(p.software.is_none());
        assert_eq!(p.warnings, 3);
    }

    #[test]
    fn software_entries_without_a_name_are_dropped_and_bad_dates_ignored() {
        let raw: Box<RawValue> = serde_json::from_str(
            r#"[{"version": "1"}, {"name": ""}, {"name": "A", "install_date": "someday"}, {"name": "B", "install_date": "2024-02-30"}, {"name": "C", "last_used": "2026-11-01"}, {"name": "D", "version": 16}, 7]"#,
        )
        .expect("raw");
        let (sw, w) = parse_software(&raw);
        let names: Vec<&str> = sw.iter().map(|s| s.name.as_str()).collect();
        assert_eq!(names, ["A", "B", "C", "D"]);
        assert_eq!(w, 6);
        assert!(sw[2].last_used.is_some());
    }

    #[test]
    fn odd_software_elements_are_dropped_one_by_one_and_the_rest_kept() {
        let raw: Box<RawValue> = serde_json::from_str(
            r#"[[1, {"name": "in an array"}], {"name": "Twice", "name": "again"}, "text", null, true, 1.5,
               {"name": "Caf\u00e9 \"Pro\"", "publisher": {"nested": [1, 2]}, "extra": {"a": [null]}},
               {"name": "Plain", "install_date": "20240131", "last_used": null},
               {"name": "Bad day", "install_date": "2024-13-01"}, {"name": "N", "version": "a\u0000b"}]"#,
        )
        .expect("raw");
        let (sw, w) = parse_software(&raw);
        let got: Vec<_> = sw
            .iter()
            .map(|s| (s.name.as_str(), s.publisher.as_str(), s.install_date))
            .collect();
        assert_eq!(
            got,
            [
                ("Café \"Pro\"", "", None),
                ("Plain", "", NaiveDate::from_ymd_opt(2024, 1, 31)),
                ("Bad day", "", None),
                ("N", "", None),
            ]
        );
        // array, duplicate name, string, null, bool, number, nested publisher,
        // impossible date, NUL in version.
        assert_eq!(w, 9);
    }

    #[test]
    fn nul_characters_and_impossible_dates_never_reach_the_database() {
        let line = r#"{"hostname": "a\u0000b", "collected_at": "2026-11-26T02:14:09Z", "os": {"caption": "x", "version": "1"}}"#;
        let e = parse_line(line, now()).expect_err("rejected");
        assert!(e.contains("NUL"), "{e}");
        let line = r#"{"hostname": "a", "collected_at": "2026-11-26T02:14:09Z", "os": {"caption": "x", "version": "1", "edition": "E\u0000"}}"#;
        assert_eq!(parse_line(line, now()).expect("kept").warnings, 1);
        let raw: Box<RawValue> = serde_json::from_str(
            r#"[{"name": "A\u0000"}, {"name": "B", "install_date": "00000101"}, {"name": "C", "install_date": "-2019-03-02"}, {"name": "D", "version": "1\u0000"}]"#,
        )
        .expect("raw");
        let (sw, w) = parse_software(&raw);
        assert_eq!(
            sw.iter().map(|s| s.name.as_str()).collect::<Vec<_>>(),
            ["B", "C", "D"]
        );
        assert!(
            sw.iter()
                .all(|s| s.install_date.is_none() && !s.version.contains('\0'))
        );
        assert_eq!(w, 4);
    }

    #[test]
    fn an_overlong_line_is_skipped_whole_and_the_next_one_read() {
        let mut data = vec![b'x'; MAX_LINE_BYTES + 10];
        data.extend_from_slice(b"\nnext\n");
        let mut input =
            Input::from_reader("big", Box::new(io::Cursor::new(data)), None).expect("open");
        let mut buf = Vec::new();
        assert_eq!(input.next_line(&mut buf).expect("read"), ReadLine::TooLong);
        assert_eq!(input.next_line(&mut buf).expect("read"), ReadLine::Line);
        assert_eq!(buf, b"next");
    }

    #[test]
    fn gzip_is_recognised_by_its_magic_bytes_not_its_name() {
        use std::io::Write;
        let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        enc.write_all(b"line one\nline two\n").expect("write");
        let gz = enc.finish().expect("finish");
        let mut input = Input::from_reader("plain-name.jsonl", Box::new(io::Cursor::new(gz)), None)
            .expect("open");
        assert!(input.gzip);
        let mut buf = Vec::new();
        assert_eq!(input.next_line(&mut buf).expect("read"), ReadLine::Line);
        assert_eq!(buf, b"line one");
        assert_eq!(input.next_line(&mut buf).expect("read"), ReadLine::Line);
        assert_eq!(input.next_line(&mut buf).expect("eof"), ReadLine::End);
    }

    #[test]
    fn a_truncated_gzip_stream_is_a_read_error_not_a_panic() {
        use std::io::Write;
        let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        for i in 0..2000 {
            writeln!(enc, "line {i} with some padding to make the stream longer").expect("write");
        }
        let gz = enc.finish().expect("finish");
        let cut = gz[..gz.len() / 2].to_vec();
        let mut input =
            Input::from_reader("cut.gz", Box::new(io::Cursor::new(cut)), None).expect("open");
        let mut buf = Vec::new();
        let mut lines = 0;
        let err = loop {
            match input.next_line(&mut buf) {
                Ok(ReadLine::Line | ReadLine::TooLong) => lines += 1,
                Ok(ReadLine::End) => panic!("a truncated stream must not end cleanly"),
                Err(e) => break e,
            }
        };
        assert!(lines > 0);
        assert_eq!(err.kind(), io::ErrorKind::UnexpectedEof);
    }
}
