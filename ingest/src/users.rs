//! `users import`: a site's own user list as CSV with the columns
//! `login,name,email,matrix_id,mattermost_username,language,time_zone,manager,groups`
//! (groups separated by `;`). Bad rows are reported by line, like the
//! ingest, and the good ones are still imported.

use std::io::Read;

use winventory_core::store::UserImport;
use winventory_core::{User, normalize_login};

use crate::pipeline::LineError;

/// The columns, in order.
pub const COLUMNS: [&str; 9] = [
    "login",
    "name",
    "email",
    "matrix_id",
    "mattermost_username",
    "language",
    "time_zone",
    "manager",
    "groups",
];

/// Rows read and the lines rejected.
#[derive(Debug, Default)]
pub struct UsersFile {
    /// Valid rows.
    pub users: Vec<UserImport>,
    /// Rejected rows.
    pub errors: Vec<LineError>,
}

fn cell(s: Option<&str>) -> Option<String> {
    s.map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
}

/// The longest login, as for the snapshot's `main_user` and `responsible`.
pub const MAX_LOGIN_BYTES: usize = 256;
/// The longest email address (RFC 5321's path limit).
pub const MAX_EMAIL_BYTES: usize = 254;
/// The longest Matrix user ID (the Matrix specification's limit).
pub const MAX_MATRIX_ID_BYTES: usize = 255;
/// The longest Mattermost username we accept (Mattermost's own is 22).
pub const MAX_MATTERMOST_BYTES: usize = 64;
/// The longest display name, group name, language or time zone.
pub const MAX_TEXT_BYTES: usize = 256;

/// Characters no identifier may hold: whitespace, control characters, and
/// the CSV's own separators and quote.
fn bad_identifier_char(c: char) -> bool {
    c.is_whitespace() || c.is_control() || matches!(c, ',' | ';' | '"')
}

fn too_long(field: &str, v: &str, max: usize) -> Result<(), String> {
    if v.len() > max {
        Err(format!(
            "field `{field}` is {} bytes long; at most {max} are allowed",
            v.len()
        ))
    } else {
        Ok(())
    }
}

fn identifier(field: &str, v: &str, max: usize, what: &str) -> Result<(), String> {
    too_long(field, v, max)?;
    if let Some(c) = v.chars().find(|&c| bad_identifier_char(c)) {
        return Err(format!(
            "field `{field}` holds {c:?}, which no {what} can contain: {v:?}"
        ));
    }
    Ok(())
}

/// A login (or a manager's): one word, no separators, at most 256 bytes.
pub fn check_login(field: &str, v: &str) -> Result<(), String> {
    identifier(field, v, MAX_LOGIN_BYTES, "login")
}

/// An email address: exactly one `@` with text on both sides, a domain that
/// neither starts nor ends with a dot, no spaces or separators.
pub fn check_email(v: &str) -> Result<(), String> {
    identifier("email", v, MAX_EMAIL_BYTES, "email address")?;
    if let Some(c) = v
        .chars()
        .find(|c| matches!(c, '<' | '>' | '(' | ')' | '[' | ']' | '\\'))
    {
        return Err(format!(
            "field `email` holds {c:?}, which no plain address contains: {v:?}"
        ));
    }
    let ok = match v.split_once('@') {
        Some((local, domain)) => {
            !local.is_empty()
                && !domain.is_empty()
                && !domain.contains('@')
                && !domain.starts_with('.')
                && !domain.ends_with('.')
        }
        None => false,
    };
    if ok {
        Ok(())
    } else {
        Err(format!(
            "field `email` is not an address (one @ with a name before it and a domain after it): {v:?}"
        ))
    }
}

/// A Matrix user ID: `@localpart:server`, both parts non-empty.
pub fn check_matrix_id(v: &str) -> Result<(), String> {
    identifier("matrix_id", v, MAX_MATRIX_ID_BYTES, "Matrix ID")?;
    let ok = v
        .strip_prefix('@')
        .and_then(|rest| rest.split_once(':'))
        .is_some_and(|(local, server)| {
            !local.is_empty() && !server.is_empty() && !local.contains('@') && !server.contains('@')
        });
    if ok {
        Ok(())
    } else {
        Err(format!(
            "field `matrix_id` must look like @user:server, not {v:?}"
        ))
    }
}

/// A Mattermost username: a letter, then letters, digits, `.`, `-` or `_`.
pub fn check_mattermost_username(v: &str) -> Result<(), String> {
    too_long("mattermost_username", v, MAX_MATTERMOST_BYTES)?;
    let ok = v.chars().next().is_some_and(|c| c.is_ascii_alphabetic())
        && v.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_'));
    if ok {
        Ok(())
    } else {
        Err(format!(
            "field `mattermost_username` must be a Mattermost username (a letter, then letters, digits, '.', '-' or '_', without the @), not {v:?}"
        ))
    }
}

/// Free text on one line: no control characters (line breaks included).
fn check_text(field: &str, v: &str) -> Result<(), String> {
    too_long(field, v, MAX_TEXT_BYTES)?;
    if let Some(c) = v.chars().find(|c| c.is_control()) {
        return Err(format!(
            "field `{field}` holds the control character {c:?}: {v:?}"
        ));
    }
    Ok(())
}

/// Check every field of a row (`get(column)` gives its trimmed cell):
/// an identifier that cannot be one is never stored.
fn check_row(get: &dyn Fn(usize) -> Option<String>) -> Result<(), String> {
    if let Some(v) = get(0) {
        check_login("login", &v)?;
    }
    if let Some(v) = get(1) {
        check_text("name", &v)?;
    }
    if let Some(v) = get(2) {
        check_email(&v)?;
    }
    if let Some(v) = get(3) {
        check_matrix_id(&v)?;
    }
    if let Some(v) = get(4) {
        check_mattermost_username(&v)?;
    }
    if let Some(v) = get(5) {
        identifier("language", &v, 35, "language tag")?;
    }
    if let Some(tz) = get(6) {
        identifier("time_zone", &tz, MAX_TEXT_BYTES, "time zone")?;
        if !tz.contains('/') && tz != "UTC" {
            return Err(format!(
                "field `time_zone` must be an IANA zone such as Europe/Zurich, not {tz:?}"
            ));
        }
    }
    if let Some(v) = get(7) {
        check_login("manager", &v)?;
    }
    if let Some(v) = get(8) {
        for g in v.split(';').map(str::trim).filter(|g| !g.is_empty()) {
            check_text("groups", g)?;
        }
    }
    Ok(())
}

/// One physical line as one CSV record. `None` for a blank line. A field
/// that holds the line's end opened a quote the line never closes.
fn parse_line(line: &[u8]) -> Option<Result<csv::StringRecord, String>> {
    if line.iter().all(u8::is_ascii_whitespace) {
        return None;
    }
    let mut text = Vec::with_capacity(line.len() + 1);
    text.extend_from_slice(line);
    text.push(b'\n');
    let mut rdr = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(&text[..]);
    let mut rec = csv::StringRecord::new();
    Some(match rdr.read_record(&mut rec) {
        Ok(true) => Ok(rec),
        Ok(false) => return None,
        Err(e) => match e.kind() {
            csv::ErrorKind::Utf8 { err, .. } => Err(format!(
                "field {} is not valid UTF-8; save the file as UTF-8",
                err.field() + 1
            )),
            _ => Err(e.to_string()),
        },
    })
}

/// Read a users CSV; `file` names it in errors. A header row with the
/// documented column names is required (any order; unknown columns are an error).
///
/// Every field is one line, so every physical line is read as one record: a
/// quote a line opens and does not close (a stray quote) rejects that line,
/// naming the field, and never swallows the lines after it.
pub fn read_users(file: &str, mut input: impl Read) -> Result<UsersFile, String> {
    let mut data = Vec::new();
    input
        .read_to_end(&mut data)
        .map_err(|e| format!("{file}: cannot read the file: {e}"))?;
    let data = data.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(&data);
    let mut lines = data
        .split(|&b| b == b'\n')
        .map(|l| l.strip_suffix(b"\r").unwrap_or(l))
        .zip(1u64..);
    let expected = || format!("expected the columns {}", COLUMNS.join(","));
    let headers = loop {
        match lines.next() {
            None => return Err(format!("{file}: the file is empty; {}", expected())),
            Some((line, no)) => match parse_line(line) {
                None => continue,
                Some(Err(e)) => {
                    return Err(format!("{file}:{no}: cannot read the header row: {e}"));
                }
                Some(Ok(h)) => break (h, no),
            },
        }
    };
    let (headers, header_line) = headers;
    if headers.iter().any(|h| h.contains('\n')) {
        return Err(format!(
            "{file}:{header_line}: the header row opens a quote it does not close; {}",
            expected()
        ));
    }
    let mut pos = [usize::MAX; 9];
    for (i, h) in headers.iter().enumerate() {
        let h = h.trim();
        match COLUMNS.iter().position(|c| c.eq_ignore_ascii_case(h)) {
            Some(c) => pos[c] = i,
            None => {
                return Err(format!(
                    "{file}:{header_line}: unknown column {h:?}; {}",
                    expected()
                ));
            }
        }
    }
    if pos[0] == usize::MAX {
        return Err(format!(
            "{file}:{header_line}: the header row has no `login` column"
        ));
    }
    let column = |i: usize| -> String {
        COLUMNS
            .iter()
            .zip(pos)
            .find(|(_, p)| *p == i)
            .map_or_else(|| format!("column {}", i + 1), |(c, _)| format!("`{c}`"))
    };
    let mut out = UsersFile::default();
    for (bytes, line) in lines {
        let mut reject = |reason: String| {
            out.errors.push(LineError {
                file: file.into(),
                line,
                reason,
            });
        };
        let rec = match parse_line(bytes) {
            None => continue,
            Some(Err(e)) => {
                reject(e);
                continue;
            }
            Some(Ok(r)) => r,
        };
        if let Some(i) = rec.iter().position(|f| f.contains(['\n', '\r'])) {
            reject(format!(
                "field {} opens a quote this line does not close (every field is one line); \
                 the line is rejected and the next lines are read on their own: remove the \
                 stray quote or close it on this line",
                column(i)
            ));
            continue;
        }
        let get = |c: usize| {
            if pos[c] == usize::MAX {
                None
            } else {
                cell(rec.get(pos[c]))
            }
        };
        if let Err(reason) = check_row(&get) {
            reject(reason);
            continue;
        }
        let Some(login) = get(0).and_then(|l| normalize_login(&l)) else {
            reject("field `login` is empty".into());
            continue;
        };
        let groups = get(8)
            .map(|g| {
                g.split(';')
                    .map(str::trim)
                    .filter(|s| !s.is_empty())
                    .map(str::to_string)
                    .collect()
            })
            .unwrap_or_default();
        out.users.push(UserImport {
            user: User {
                login,
                name: get(1),
                email: get(2),
                matrix_id: get(3),
                mattermost_username: get(4),
                language: get(5),
                time_zone: get(6),
                manager: get(7).and_then(|m| normalize_login(&m)),
            },
            groups,
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn good_rows_are_read_and_bad_rows_are_reported_by_line() {
        let csv = "login,name,email,matrix_id,mattermost_username,language,time_zone,manager,groups\n\
                   JDoe,John Doe,john@example.org,@jdoe:example.org,jdoe,en,Europe/Zurich,asmith,it;admins\n\
                   ,Nobody,x@example.org,,,,,,\n\
                   bob,Bob,not-an-email,,,,,,\n\
                   eve,Eve,eve@example.org,eve,,,,,\n\
                   amy,Amy,amy@example.org,,,,Mars,,\n";
        let f = read_users("users.csv", csv.as_bytes()).expect("header ok");
        assert_eq!(f.users.len(), 1);
        assert_eq!(f.users[0].user.login, "jdoe");
        assert_eq!(f.users[0].groups, ["it", "admins"]);
        let lines: Vec<u64> = f.errors.iter().map(|e| e.line).collect();
        assert_eq!(lines, [3, 4, 5, 6]);
        assert!(f.errors[1].reason.contains("`email`"));
    }

    const HEADER: &str =
        "login,name,email,matrix_id,mattermost_username,language,time_zone,manager,groups\n";

    /// Write `text` to a real file in a temporary directory and read it back.
    fn read_file(text: &str) -> UsersFile {
        let dir = tempfile::tempdir().expect("tmp");
        let path = dir.path().join("users.csv");
        std::fs::write(&path, text).expect("write");
        let f = std::fs::File::open(&path).expect("open");
        read_users("users.csv", f).expect("header ok")
    }

    fn logins(f: &UsersFile) -> Vec<&str> {
        f.users.iter().map(|u| u.user.login.as_str()).collect()
    }

    #[test]
    fn a_stray_quote_rejects_the_record_with_its_line_and_the_rows_after_it_are_still_imported() {
        let f = read_file(&format!(
            "{HEADER}jdoe,John,john@example.org,,,,,,\n\
             \"bob,Bob,bob@example.org,,,,,,\n\
             amy,Amy,amy@example.org,,,,,,\n\
             eve,Eve,eve@example.org,,,,,,\n"
        ));
        assert_eq!(logins(&f), ["jdoe", "amy", "eve"]);
        assert_eq!(f.errors.len(), 1, "{:?}", f.errors);
        assert_eq!(f.errors[0].line, 3);
        let r = &f.errors[0].reason;
        assert!(r.contains("`login`") && r.contains("quote"), "{r}");
    }

    #[test]
    fn a_quote_closed_on_a_later_line_rejects_both_lines_and_the_lines_between_are_read() {
        let f = read_file(&format!(
            "{HEADER}carl,\"Carl Smith,carl@example.org,,,,,,\r\n\
             dan,Dan,dan@example.org,@dan:example.org,dan,,,,\r\n\
             \r\n\
             fay,Fay,fay@example.org\",,,,,,\r\n\
             erin,\"Erin, the second\",erin@example.org,,,,,,\r\n"
        ));
        assert_eq!(logins(&f), ["dan", "erin"]);
        assert_eq!(f.users[1].user.name.as_deref(), Some("Erin, the second"));
        let lines: Vec<u64> = f.errors.iter().map(|e| e.line).collect();
        assert_eq!(lines, [2, 5], "{:?}", f.errors);
        assert!(
            f.errors[0].reason.contains("`name`"),
            "{}",
            f.errors[0].reason
        );
        assert!(
            f.errors[1].reason.contains("`email`"),
            "{}",
            f.errors[1].reason
        );
    }

    #[test]
    fn identifiers_that_cannot_be_one_are_rejected_naming_line_and_field() {
        let rows = [
            ("\"j doe\",J,j@example.org,,,,,,", "`login`"),
            ("\"a,b\",A,a@example.org,,,,,,", "`login`"),
            ("bel\u{7},B,b@example.org,,,,,,", "`login`"),
            ("c,C,c@d@example.org,,,,,,", "`email`"),
            ("c,C,@example.org,,,,,,", "`email`"),
            ("c,C,c@,,,,,,", "`email`"),
            ("c,C,\"c @example.org\",,,,,,", "`email`"),
            ("c,C,c@example.org,c:example.org,,,,,", "`matrix_id`"),
            ("c,C,c@example.org,@:example.org,,,,,", "`matrix_id`"),
            ("c,C,c@example.org,@c:,,,,,", "`matrix_id`"),
            ("c,C,c@example.org,\"@c d:example.org\",,,,,", "`matrix_id`"),
            ("c,C,c@example.org,,\"c d\",,,,", "`mattermost_username`"),
            ("c,C,c@example.org,,@c,,,,", "`mattermost_username`"),
            ("c,C,c@example.org,,,,,\"boss man\",", "`manager`"),
            ("c,C\u{1b}[31m,c@example.org,,,,,,", "`name`"),
        ];
        let mut text = HEADER.to_string();
        for (row, _) in rows {
            text.push_str(row);
            text.push('\n');
        }
        text.push_str("good,Good Person,good@example.org,@good:example.org,good.person,fr,Europe/Paris,boss,it\n");
        let f = read_file(&text);
        assert_eq!(logins(&f), ["good"]);
        assert_eq!(f.errors.len(), rows.len(), "{:?}", f.errors);
        for (i, ((row, field), e)) in rows.iter().zip(&f.errors).enumerate() {
            assert_eq!(e.line, i as u64 + 2, "{row}");
            assert!(e.reason.contains(field), "{row}: {}", e.reason);
        }
    }

    #[test]
    fn an_unknown_column_is_refused_naming_it() {
        let e = read_users("u.csv", "login,phone\nx,1\n".as_bytes()).expect_err("refused");
        assert!(e.contains("phone"), "{e}");
    }
}
