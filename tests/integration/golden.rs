//! Golden tests of the outputs people read: each case in `tests/cmd/` gives
//! the arguments, and the exact stdout, stderr and exit status expected
//! (`*.stdout`, `*.stderr`). A change of wording or columns shows up here as
//! a reviewed diff. Regenerate after a deliberate change with
//! `TRYCMD=overwrite cargo test --test integration golden::`.

#[test]
fn cli_outputs() {
    trycmd::TestCases::new()
        .register_bin(
            "cssim",
            std::path::PathBuf::from(env!("CARGO_BIN_EXE_cssim")),
        )
        .env("NO_COLOR", "1")
        .case("tests/cmd/*.toml")
        .case("tests/cmd/*.md");
}
