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

/// Check the fields whose shape later work relies on.
fn check_fields(
    email: Option<&str>,
    matrix_id: Option<&str>,
    time_zone: Option<&str>,
) -> Result<(), String> {
    if let Some(email) = email.filter(|e| !e.contains('@')) {
        return Err(format!("field `email` is not an address: {email:?}"));
    }
    if let Some(m) = matrix_id.filter(|m| !(m.starts_with('@') && m.contains(':'))) {
        return Err(format!(
            "field `matrix_id` must look like @user:server, not {m:?}"
        ));
    }
    if let Some(tz) = time_zone.filter(|tz| !tz.contains('/') && *tz != "UTC") {
        return Err(format!(
            "field `time_zone` must be an IANA zone such as Europe/Zurich, not {tz:?}"
        ));
    }
    Ok(())
}

/// Read a users CSV; `file` names it in errors. A header row with the
/// documented column names is required (any order; unknown columns are an error).
pub fn read_users(file: &str, input: impl Read) -> Result<UsersFile, String> {
    let mut rdr = csv::ReaderBuilder::new()
        .flexible(true)
        .trim(csv::Trim::All)
        .from_reader(input);
    let headers = rdr
        .headers()
        .map_err(|e| format!("{file}: cannot read the header row: {e}"))?
        .clone();
    let mut pos = [usize::MAX; 9];
    for (i, h) in headers.iter().enumerate() {
        let h = h.trim_start_matches('\u{feff}');
        match COLUMNS.iter().position(|c| c.eq_ignore_ascii_case(h)) {
            Some(c) => pos[c] = i,
            None => {
                return Err(format!(
                    "{file}:1: unknown column {h:?}; expected the columns {}",
                    COLUMNS.join(",")
                ));
            }
        }
    }
    if pos[0] == usize::MAX {
        return Err(format!("{file}:1: the header row has no `login` column"));
    }
    let mut out = UsersFile::default();
    for rec in rdr.records() {
        let rec = match rec {
            Ok(r) => r,
            Err(e) => {
                let line = e.position().map_or(0, |p| p.line());
                out.errors.push(LineError {
                    file: file.into(),
                    line,
                    reason: e.to_string(),
                });
                continue;
            }
        };
        let line = rec.position().map_or(0, |p| p.line());
        let get = |c: usize| {
            if pos[c] == usize::MAX {
                None
            } else {
                cell(rec.get(pos[c]))
            }
        };
        let Some(login) = get(0).and_then(|l| normalize_login(&l)) else {
            out.errors.push(LineError {
                file: file.into(),
                line,
                reason: "field `login` is empty".into(),
            });
            continue;
        };
        if let Err(reason) = check_fields(get(2).as_deref(), get(3).as_deref(), get(6).as_deref()) {
            out.errors.push(LineError {
                file: file.into(),
                line,
                reason,
            });
            continue;
        }
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

    #[test]
    fn an_unknown_column_is_refused_naming_it() {
        let e = read_users("u.csv", "login,phone\nx,1\n".as_bytes()).expect_err("refused");
        assert!(e.contains("phone"), "{e}");
    }
}
