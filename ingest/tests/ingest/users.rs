//! `users import` from real files, stored on both backends: a stray quote or
//! an identifier that cannot be one never reaches the directory, and the good
//! rows around it still do.

use winventory_core::on_both_backends;
use winventory_ingest::users::read_users;

use crate::helpers::*;

on_both_backends! {
    async fn a_stray_quote_in_a_users_file_stores_the_rows_after_it_and_no_joined_login(backend) {
        let e = env(backend).await;
        let path = e.bytes_file("users.csv", b"login,name,email,matrix_id,mattermost_username,language,time_zone,manager,groups\n\
            jdoe,John Doe,john@example.org,@jdoe:example.org,jdoe,en,Europe/Zurich,,it\n\
            \"bob,Bob,bob@example.org,,,,,,\n\
            amy,Amy,amy@example.org,,,,,,\n\
            eve,Eve,\"eve@example.org\nx\",,,,,,\n\
            zed,Zed,zed@example.org,,,,,,\n");
        let f = read_users("users.csv", std::fs::File::open(&path).expect("open")).expect("read");
        let lines: Vec<u64> = f.errors.iter().map(|e| e.line).collect();
        // Each line is one record: line 3's quote and line 5's are not
        // closed on their lines (line 5's closes on line 6, whose `x"` is no
        // login); the rows between and after are read on their own.
        assert_eq!(lines, [3, 5, 6], "{:?}", f.errors);
        let r = |i: usize| f.errors[i].reason.as_str();
        assert!(r(0).contains("`login`") && r(0).contains("quote"), "{}", r(0));
        assert!(r(1).contains("`email`") && r(1).contains("quote"), "{}", r(1));
        assert!(r(2).contains("`login`"), "{}", r(2));
        e.store.import_users(&f.users, now()).await.expect("import");
        for login in ["jdoe", "amy", "zed"] {
            assert!(e.store.user(login).await.expect("q").is_some(), "{login} is imported");
        }
        assert_eq!(e.store.counts().await.expect("counts").users, 3);
        assert!(e.store.user("eve").await.expect("q").is_none());
    }
}
