//! The grammar: every edit parses, prints canonically and round-trips; bad
//! strings give one error naming the token.

use proptest::prelude::*;

use super::*;

/// (input, canonical text, edit) for every edit of the grammar.
fn table() -> Vec<(&'static str, &'static str, Edit)> {
    vec![
        ("jpeg:70", "jpeg:70", Edit::Jpeg(70)),
        ("JPEG:070", "jpeg:70", Edit::Jpeg(70)),
        ("webp", "webp", Edit::Webp),
        ("resize:0.50", "resize:0.5", Edit::Resize(0.5)),
        ("resize:2", "resize:2", Edit::Resize(2.0)),
        (
            "resize:640X480",
            "resize:640x480",
            Edit::ResizeTo {
                width: 640,
                height: 480,
            },
        ),
        ("crop:0.8", "crop:0.8", Edit::CropCentre(0.8)),
        (
            "crop: 0.1, 0 ,0.2,0.05",
            "crop:0.1,0,0.2,0.05",
            Edit::CropSides {
                left: 0.1,
                top: 0.0,
                right: 0.2,
                bottom: 0.05,
            },
        ),
        (
            "pad:0.1",
            "pad:0.1",
            Edit::Pad {
                fraction: 0.1,
                colour: Colour::BLACK,
            },
        ),
        (
            "pad:0.1,black",
            "pad:0.1",
            Edit::Pad {
                fraction: 0.1,
                colour: Colour::BLACK,
            },
        ),
        (
            "pad:0.25,FFFFFF",
            "pad:0.25,white",
            Edit::Pad {
                fraction: 0.25,
                colour: Colour([255; 3]),
            },
        ),
        (
            "pad:0,gray",
            "pad:0,grey",
            Edit::Pad {
                fraction: 0.0,
                colour: Colour([128; 3]),
            },
        ),
        (
            "pad:0.05,ff8000",
            "pad:0.05,ff8000",
            Edit::Pad {
                fraction: 0.05,
                colour: Colour([255, 128, 0]),
            },
        ),
        ("rotate:90", "rotate:90", Edit::Rotate(90.0)),
        ("rotate:-90", "rotate:270", Edit::Rotate(270.0)),
        ("rotate:-0", "rotate:0", Edit::Rotate(0.0)),
        ("rotate:725", "rotate:5", Edit::Rotate(5.0)),
        ("rotate:2.5", "rotate:2.5", Edit::Rotate(2.5)),
        ("flip:h", "flip:h", Edit::FlipHorizontal),
        ("flip:V", "flip:v", Edit::FlipVertical),
        ("blur:1.5", "blur:1.5", Edit::Blur(1.5)),
        ("sharpen", "sharpen", Edit::Sharpen),
        ("brightness:20", "brightness:20", Edit::Brightness(20)),
        ("brightness:+20", "brightness:20", Edit::Brightness(20)),
        ("resize:+0.5", "resize:0.5", Edit::Resize(0.5)),
        ("brightness:-35", "brightness:-35", Edit::Brightness(-35)),
        ("brightness:-0", "brightness:0", Edit::Brightness(0)),
        ("contrast:1.2", "contrast:1.2", Edit::Contrast(1.2)),
        ("gamma:2.2", "gamma:2.2", Edit::Gamma(2.2)),
        ("grayscale", "grayscale", Edit::Grayscale),
        ("greyscale", "grayscale", Edit::Grayscale),
        ("noise:5", "noise:5", Edit::Noise(5.0)),
        ("overlay:0.1", "overlay:0.1", Edit::Overlay(0.1)),
        (
            "text:\"Hello + world; #1 \\\"quoted\\\" a\\\\b\"",
            "text:\"Hello + world; #1 \\\"quoted\\\" a\\\\b\"",
            Edit::Text("Hello + world; #1 \"quoted\" a\\b".into()),
        ),
        ("text:hello", "text:\"hello\"", Edit::Text("hello".into())),
        ("aspect:1.33", "aspect:1.33", Edit::Aspect(1.33)),
        ("screenshot", "screenshot", Edit::Screenshot),
    ]
}

#[test]
fn every_edit_parses_to_its_value_and_canonical_text() {
    for (input, canonical, edit) in table() {
        let c = Chain::parse(input).unwrap_or_else(|e| panic!("{input}: {e}"));
        assert_eq!(c.edits(), std::slice::from_ref(&edit), "{input}");
        assert_eq!(c.to_string(), canonical, "{input}");
        assert_eq!(edit.to_string(), canonical);
        assert_eq!(Chain::parse(canonical).unwrap(), c, "{canonical}");
        assert_eq!(input.parse::<Edit>().unwrap(), edit);
    }
}

#[test]
fn chains_join_with_plus_and_none_is_the_identity() {
    let c = Chain::parse(" resize:0.5 + jpeg:70 ").unwrap();
    assert_eq!(c.edits(), &[Edit::Resize(0.5), Edit::Jpeg(70)]);
    assert_eq!(c.to_string(), "resize:0.5+jpeg:70");
    assert_eq!(Chain::parse("none").unwrap(), Chain::identity());
    assert_eq!(Chain::identity().to_string(), "none");
    assert_eq!(Chain::parse("NONE+jpeg:70").unwrap().to_string(), "jpeg:70");
    let json = serde_json::to_string(&c).unwrap();
    assert_eq!(json, "\"resize:0.5+jpeg:70\"");
    assert_eq!(serde_json::from_str::<Chain>(&json).unwrap(), c);
}

#[test]
fn lists_split_on_lines_and_semicolons_with_comments() {
    let text = "# edits\njpeg:70 ; resize:0.5+jpeg:70\n\n  none # the original\ntext:\"a;b#c\"\n";
    let list = Chain::parse_list(text).unwrap();
    let shown: Vec<String> = list.iter().map(ToString::to_string).collect();
    assert_eq!(
        shown,
        ["jpeg:70", "resize:0.5+jpeg:70", "none", "text:\"a;b#c\""]
    );
    let err = Chain::parse_list("jpeg:70\nblurr:2")
        .unwrap_err()
        .to_string();
    assert!(err.starts_with("line 2: unknown edit \"blurr:2\""), "{err}");
    assert!(Chain::parse_list("# nothing\n").unwrap().is_empty());
}

#[test]
fn the_edits_file_of_the_docs_parses() {
    // docs/EVALUATION.md, "Chains, seeds, canonical text".
    let text = "# the usual suspects\nnone\njpeg:70; jpeg:50\nresize:0.5+jpeg:70\n\
                crop:0.9; pad:0.1,white; rotate:5; flip:h\ntext:\"Look at this!\"+screenshot\n";
    let list = Chain::parse_list(text).unwrap();
    assert_eq!(list.len(), 9);
    assert_eq!(list[8].to_string(), "text:\"Look at this!\"+screenshot");
}

#[test]
fn an_unknown_edit_is_one_error_naming_it_and_listing_the_valid_ones() {
    let err = Chain::parse("resize:0.5+blurr:2").unwrap_err().to_string();
    assert_eq!(
        err,
        format!("unknown edit \"blurr:2\" in \"resize:0.5+blurr:2\"; valid edits: {VALID_EDITS}")
    );
    assert!(VALID_EDITS.starts_with("jpeg:Q, webp, resize:S"));
    for bad in ["", "jpeg:70++resize:0.5", "+"] {
        let err = Chain::parse(bad).unwrap_err().to_string();
        assert!(err.starts_with("empty edit in"), "{bad}: {err}");
    }
}

#[test]
fn out_of_range_parameters_name_the_parameter_and_its_range() {
    let cases = [
        (
            "jpeg:150",
            "Q must be an integer from 1 to 100, got \"150\"",
        ),
        ("jpeg:7.5", "Q must be an integer from 1 to 100"),
        (
            "jpeg",
            "jpeg needs its parameter Q (an integer from 1 to 100)",
        ),
        ("resize:0", "S must be a number above 0 up to 8, got \"0\""),
        ("resize:nan", "S must be a number above 0 up to 8"),
        ("resize:10x0", "H must be an integer from 1 to 16384"),
        ("crop:1.5", "F must be a number above 0 up to 1"),
        ("crop:0.5,0.5,0.5,0", "L+R and T+B must each be below 1"),
        ("crop:0.1,0.1", "crop:L,T,R,B takes four fractions, got 2"),
        (
            "pad:0.1,mauve",
            "COLOUR must be black, white, grey, red, green, blue",
        ),
        ("pad:3", "F must be a number from 0 to 2"),
        (
            "flip:x",
            "flip takes h (left-right) or v (top-bottom), got \"x\"",
        ),
        ("blur:0", "SIGMA must be a number above 0 up to 50"),
        ("sharpen:2", "sharpen takes no parameter"),
        ("brightness:300", "N must be an integer from -255 to 255"),
        ("contrast:-1", "F must be a number from 0 to 10"),
        ("gamma:0", "G must be a number above 0 up to 10"),
        ("noise:-1", "SIGMA must be a number above 0 up to 255"),
        ("overlay:2", "F must be a number above 0 up to 1"),
        ("text:\"open", "closing quote is missing"),
        (
            "text:\"\"",
            "the caption must have 1 to 200 characters, got 0",
        ),
        ("aspect:0", "F must be a number above 0 up to 8"),
        ("rotate:inf", "DEG must be a number from -3600 to 3600"),
    ];
    for (bad, reason) in cases {
        let chain = format!("resize:0.5+{bad}");
        let err = Chain::parse(&chain).unwrap_err().to_string();
        assert!(
            err.starts_with(&format!("bad edit \"{bad}\" in \"{chain}\": "))
                || bad.starts_with("text:\"open"),
            "{err}"
        );
        assert!(err.contains(reason), "{bad}: {err}");
    }
}

fn arb_edit() -> impl Strategy<Value = Edit> {
    let frac = || (1u32..=1000).prop_map(|n| n as f32 / 1000.0);
    let side = || (0u32..=400).prop_map(|n| n as f32 / 1000.0);
    prop_oneof![
        (1u8..=100).prop_map(Edit::Jpeg),
        Just(Edit::Webp),
        (0.001f32..=8.0).prop_map(Edit::Resize),
        (1u32..=16384, 1u32..=16384).prop_map(|(width, height)| Edit::ResizeTo { width, height }),
        frac().prop_map(Edit::CropCentre),
        (side(), side(), side(), side()).prop_map(|(left, top, right, bottom)| Edit::CropSides {
            left,
            top,
            right,
            bottom
        }),
        (0.0f32..=2.0, any::<[u8; 3]>()).prop_map(|(fraction, c)| Edit::Pad {
            fraction,
            colour: Colour(c)
        }),
        (0.0f32..360.0).prop_map(Edit::Rotate),
        Just(Edit::FlipHorizontal),
        Just(Edit::FlipVertical),
        (0.01f32..=50.0).prop_map(Edit::Blur),
        Just(Edit::Sharpen),
        (-255i16..=255).prop_map(Edit::Brightness),
        (0.0f32..=10.0).prop_map(Edit::Contrast),
        (0.01f32..=10.0).prop_map(Edit::Gamma),
        Just(Edit::Grayscale),
        (0.01f32..=255.0).prop_map(Edit::Noise),
        frac().prop_map(Edit::Overlay),
        "[ -~]{1,40}".prop_map(Edit::Text),
        (0.01f32..=8.0).prop_map(Edit::Aspect),
        Just(Edit::Screenshot),
    ]
}

proptest! {
    #[test]
    fn canonical_text_round_trips(edits in proptest::collection::vec(arb_edit(), 0..5)) {
        let chain = Chain::new(edits);
        let text = chain.to_string();
        let back = Chain::parse(&text).map_err(|e| TestCaseError::fail(e.to_string()))?;
        prop_assert_eq!(&back, &chain);
        prop_assert_eq!(back.to_string(), text.clone());
        let listed = Chain::parse_list(&format!("{text} # comment\n{text}; {text}"))
            .map_err(|e| TestCaseError::fail(e.to_string()))?;
        prop_assert_eq!(listed, vec![chain.clone(), chain.clone(), chain]);
    }
}
