//! The reverser's grapheme reversal: its byte-level reversal equals
//! reversing unicode-segmentation's extended grapheme clusters, a body in
//! any charset keeps its length, and only a body that does not decode is
//! left as it is.
#![no_main]

use _rswsgi::fuzzing::{reverse_body, reverse_graphemes, reverse_utf8, Charset};
use libfuzzer_sys::fuzz_target;
use unicode_segmentation::UnicodeSegmentation;

fuzz_target!(|data: &[u8]| {
    let mut body = data.to_vec();
    let utf8 = std::str::from_utf8(data);
    assert_eq!(reverse_body(&mut body, Charset::Utf8), utf8.is_ok());
    if let Ok(text) = utf8 {
        let expected: String = text.graphemes(true).rev().collect();
        assert_eq!(reverse_utf8(text), expected.as_bytes());
        assert_eq!(reverse_graphemes(text), expected);
        assert_eq!(body, expected.as_bytes());
    } else {
        assert_eq!(body, data);
    }
    let mut latin1 = data.to_vec();
    assert!(reverse_body(&mut latin1, Charset::Latin1));
    assert_eq!(latin1.len(), data.len());
    let mut ascii = data.to_vec();
    assert_eq!(reverse_body(&mut ascii, Charset::Ascii), data.is_ascii());
});
