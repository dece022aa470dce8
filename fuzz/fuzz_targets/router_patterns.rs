//! Router patterns: adding any patterns never panics (a pattern matchit
//! cannot take is an error), and `url_for`'s path for an accepted pattern
//! routes back to it with the same params: the path is built with a value
//! per param, percent-decoded as the server decodes `PATH_INFO`, and looked
//! up in a table holding that pattern alone.
#![no_main]

use _rswsgi::fuzzing::{build, Methods, Table};
use libfuzzer_sys::fuzz_target;
use percent_encoding::percent_decode_str;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let mut all: Table<usize> = Table::default();
    for (i, pattern) in text.split('\n').take(16).enumerate() {
        let _ = all.insert(pattern, Methods::Any, None, i);
        let mut alone: Table<usize> = Table::default();
        if alone.insert(pattern, Methods::Any, None, i).is_err() {
            continue;
        }
        // A value per param name, the same one each time a name comes back.
        let values: Vec<String> = (0..64).map(|n| format!("v{n}")).collect();
        let (mut names, mut filled) = (Vec::<String>::new(), 0);
        let Ok(path) = build(pattern, |name| {
            filled += 1;
            let at = names.iter().position(|n| n == name).unwrap_or_else(|| {
                names.push(name.to_owned());
                names.len() - 1
            });
            values.get(at).map(String::as_str)
        }) else {
            continue;
        };
        let decoded = percent_decode_str(&path).decode_utf8_lossy();
        let Some((_, _, params)) = alone.at(&decoded) else {
            panic!("{pattern:?}: url_for built {path:?}, which does not route back");
        };
        let got: Vec<(&str, &str)> = params.iter().collect();
        assert_eq!(
            got.len(),
            filled,
            "{pattern:?}: {path:?} routes back with {got:?}"
        );
        for (name, value) in &got {
            let at = names.iter().position(|n| n == name);
            assert_eq!(
                at.map(|at| values[at].as_str()),
                Some(*value),
                "{pattern:?}: {path:?} routes back with {got:?}, url_for filled {names:?}"
            );
        }
    }
});
