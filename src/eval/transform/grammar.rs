//! The edit grammar: text such as `resize:0.5+jpeg:70` to [`Chain`]s and
//! back. [`Chain`]'s `Display` is canonical — one spelling per chain, numbers
//! normalised — because caches key on it; `parse(&chain.to_string())`
//! gives the same chain back.

use std::fmt;
use std::str::FromStr;

use super::{Chain, Colour, Edit, EditError};

/// Every edit the grammar knows, as the error for an unknown one lists them.
pub const VALID_EDITS: &str = "jpeg:Q, webp, resize:S, resize:WxH, crop:F, crop:L,T,R,B, \
pad:F[,COLOUR], rotate:DEG, flip:h|v, blur:SIGMA, sharpen, brightness:±N, contrast:F, gamma:G, \
grayscale, noise:SIGMA, overlay:F, text:\"…\", aspect:F, screenshot, none";

/// The longest caption `text:"…"` accepts, in characters.
pub const MAX_TEXT_CHARS: usize = 200;

impl Chain {
    /// Parses one chain: edits joined by `+` (`resize:0.5+jpeg:70`), or
    /// `none` for the identity. Whitespace around each edit is ignored.
    pub fn parse(text: &str) -> Result<Chain, EditError> {
        let tokens = split_outside_quotes(text, '+').map_err(|reason| EditError::Parameter {
            token: text.trim().to_string(),
            chain: text.to_string(),
            reason,
        })?;
        let mut edits = Vec::new();
        for token in tokens {
            let token = token.trim();
            if token.is_empty() {
                return Err(EditError::Empty {
                    chain: text.to_string(),
                });
            }
            if token.eq_ignore_ascii_case("none") {
                continue;
            }
            edits.push(parse_edit(token, text)?);
        }
        Ok(Chain { edits })
    }

    /// Parses a list of chains: one per line or several separated by `;`;
    /// `#` starts a comment (outside a quoted caption); blank entries are
    /// skipped. An error names the line (1-based). An empty list is `Ok`
    /// and empty: whether that is an error is the caller's to say.
    pub fn parse_list(text: &str) -> Result<Vec<Chain>, EditError> {
        let mut chains = Vec::new();
        for (i, line) in text.lines().enumerate() {
            let in_line = |source: EditError| EditError::Line {
                line: i + 1,
                source: Box::new(source),
            };
            let line = strip_comment(line);
            let entries = split_outside_quotes(line, ';').map_err(|reason| {
                in_line(EditError::Parameter {
                    token: line.trim().to_string(),
                    chain: line.to_string(),
                    reason,
                })
            })?;
            for entry in entries {
                if entry.trim().is_empty() {
                    continue;
                }
                chains.push(Chain::parse(entry.trim()).map_err(in_line)?);
            }
        }
        Ok(chains)
    }
}

impl FromStr for Chain {
    type Err = EditError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Chain::parse(s)
    }
}

impl fmt::Display for Chain {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.edits.is_empty() {
            return f.write_str("none");
        }
        for (i, edit) in self.edits.iter().enumerate() {
            if i > 0 {
                f.write_str("+")?;
            }
            write!(f, "{edit}")?;
        }
        Ok(())
    }
}

impl serde::Serialize for Chain {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> serde::Deserialize<'de> for Chain {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        Chain::parse(&text).map_err(serde::de::Error::custom)
    }
}

impl FromStr for Edit {
    type Err = EditError;
    /// Parses one edit (`jpeg:70`); `none` and chains are [`Chain`]'s.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let token = s.trim();
        if token.is_empty() {
            return Err(EditError::Empty {
                chain: s.to_string(),
            });
        }
        parse_edit(token, s)
    }
}

/// Canonical text of one edit.
impl fmt::Display for Edit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Edit::Jpeg(q) => write!(f, "jpeg:{q}"),
            Edit::Webp => f.write_str("webp"),
            Edit::Resize(s) => write!(f, "resize:{s}"),
            Edit::ResizeTo { width, height } => write!(f, "resize:{width}x{height}"),
            Edit::CropCentre(c) => write!(f, "crop:{c}"),
            Edit::CropSides {
                left,
                top,
                right,
                bottom,
            } => write!(f, "crop:{left},{top},{right},{bottom}"),
            Edit::Pad { fraction, colour } if *colour == Colour::BLACK => {
                write!(f, "pad:{fraction}")
            }
            Edit::Pad { fraction, colour } => write!(f, "pad:{fraction},{colour}"),
            Edit::Rotate(d) => write!(f, "rotate:{d}"),
            Edit::FlipHorizontal => f.write_str("flip:h"),
            Edit::FlipVertical => f.write_str("flip:v"),
            Edit::Blur(s) => write!(f, "blur:{s}"),
            Edit::Sharpen => f.write_str("sharpen"),
            Edit::Brightness(b) => write!(f, "brightness:{b}"),
            Edit::Contrast(c) => write!(f, "contrast:{c}"),
            Edit::Gamma(g) => write!(f, "gamma:{g}"),
            Edit::Grayscale => f.write_str("grayscale"),
            Edit::Noise(s) => write!(f, "noise:{s}"),
            Edit::Overlay(c) => write!(f, "overlay:{c}"),
            Edit::Text(t) => {
                f.write_str("text:\"")?;
                for c in t.chars() {
                    if c == '"' || c == '\\' {
                        f.write_str("\\")?;
                    }
                    write!(f, "{c}")?;
                }
                f.write_str("\"")
            }
            Edit::Aspect(a) => write!(f, "aspect:{a}"),
            Edit::Screenshot => f.write_str("screenshot"),
        }
    }
}

/// Parses one non-empty, trimmed token of `chain`.
fn parse_edit(token: &str, chain: &str) -> Result<Edit, EditError> {
    let (name, param) = match token.split_once(':') {
        Some((n, p)) => (n.trim(), Some(p.trim())),
        None => (token, None),
    };
    let p = Param {
        token,
        chain,
        name,
        value: param,
    };
    let name = name.to_ascii_lowercase();
    let edit = match name.as_str() {
        "jpeg" => Edit::Jpeg(p.int("Q", 1, 100)? as u8),
        "webp" => p.none(Edit::Webp)?,
        "resize" => match p.required("S (or WxH)", "a scale above 0 up to 8, or WIDTHxHEIGHT")? {
            v if v.contains(['x', 'X']) => {
                let (w, h) = v.split_once(['x', 'X']).unwrap_or((v, ""));
                Edit::ResizeTo {
                    width: p.int_of(w, "W", 1, 16384)? as u32,
                    height: p.int_of(h, "H", 1, 16384)? as u32,
                }
            }
            _ => Edit::Resize(p.float("S", Bound::Above(0.0), 8.0)?),
        },
        "crop" => {
            let v = p.required("F (or L,T,R,B)", "a fraction above 0 up to 1")?;
            if v.contains(',') {
                let parts: Vec<&str> = v.split(',').collect();
                let [l, t, r, b] = parts.as_slice() else {
                    return Err(p.error(format!(
                        "crop:L,T,R,B takes four fractions, got {}",
                        parts.len()
                    )));
                };
                let side = |s: &str, n: &str| p.float_of(s, n, Bound::AtLeast(0.0), 0.99);
                let (left, top, right, bottom) =
                    (side(l, "L")?, side(t, "T")?, side(r, "R")?, side(b, "B")?);
                if left + right >= 1.0 || top + bottom >= 1.0 {
                    return Err(p.error(
                        "L+R and T+B must each be below 1 (something must be left)".into(),
                    ));
                }
                Edit::CropSides {
                    left,
                    top,
                    right,
                    bottom,
                }
            } else {
                Edit::CropCentre(p.float("F", Bound::Above(0.0), 1.0)?)
            }
        }
        "pad" => {
            let v = p.required("F", "a fraction from 0 up to 2")?;
            let (f, colour) = match v.split_once(',') {
                Some((f, c)) => (f, Some(c.trim())),
                None => (v, None),
            };
            let fraction = p.float_of(f, "F", Bound::AtLeast(0.0), 2.0)?;
            let colour = match colour {
                None => Colour::BLACK,
                Some(c) => Colour::parse(c).ok_or_else(|| {
                    p.error(format!(
                        "COLOUR must be {} or six hex digits RRGGBB, got \"{c}\"",
                        Colour::NAMES
                    ))
                })?,
            };
            Edit::Pad { fraction, colour }
        }
        "rotate" => {
            let d = p.float("DEG", Bound::AtLeast(-3600.0), 3600.0)?;
            // One spelling per angle: [0, 360), and never -0.
            Edit::Rotate(d.rem_euclid(360.0) % 360.0 + 0.0)
        }
        "flip" => match p.required("h|v", "h (left-right) or v (top-bottom)")? {
            v if v.eq_ignore_ascii_case("h") => Edit::FlipHorizontal,
            v if v.eq_ignore_ascii_case("v") => Edit::FlipVertical,
            v => {
                return Err(p.error(format!(
                    "flip takes h (left-right) or v (top-bottom), got \"{v}\""
                )));
            }
        },
        "blur" => Edit::Blur(p.float("SIGMA", Bound::Above(0.0), 50.0)?),
        "sharpen" => p.none(Edit::Sharpen)?,
        "brightness" => Edit::Brightness(p.int("N", -255, 255)? as i16),
        "contrast" => Edit::Contrast(p.float("F", Bound::AtLeast(0.0), 10.0)?),
        "gamma" => Edit::Gamma(p.float("G", Bound::Above(0.0), 10.0)?),
        "grayscale" | "greyscale" => p.none(Edit::Grayscale)?,
        "noise" => Edit::Noise(p.float("SIGMA", Bound::Above(0.0), 255.0)?),
        "overlay" => Edit::Overlay(p.float("F", Bound::Above(0.0), 1.0)?),
        "text" => Edit::Text(p.text()?),
        "aspect" => Edit::Aspect(p.float("F", Bound::Above(0.0), 8.0)?),
        "screenshot" => p.none(Edit::Screenshot)?,
        _ => {
            return Err(EditError::Unknown {
                token: token.to_string(),
                chain: chain.to_string(),
            });
        }
    };
    Ok(edit)
}

/// The lower end of a float parameter's range.
#[derive(Clone, Copy)]
enum Bound {
    /// Strictly above.
    Above(f32),
    /// At or above.
    AtLeast(f32),
}

/// One edit's parameter text, with what an error needs to name it.
struct Param<'a> {
    token: &'a str,
    chain: &'a str,
    name: &'a str,
    value: Option<&'a str>,
}

impl Param<'_> {
    fn error(&self, reason: String) -> EditError {
        EditError::Parameter {
            token: self.token.to_string(),
            chain: self.chain.to_string(),
            reason,
        }
    }

    /// An edit without a parameter; `sharpen:2` is refused.
    fn none(&self, edit: Edit) -> Result<Edit, EditError> {
        match self.value {
            None => Ok(edit),
            Some(_) => Err(self.error(format!("{} takes no parameter", self.name))),
        }
    }

    fn required(&self, what: &str, range: &str) -> Result<&str, EditError> {
        match self.value {
            Some(v) if !v.is_empty() => Ok(v),
            _ => Err(self.error(format!(
                "{} needs its parameter {what} ({range})",
                self.name
            ))),
        }
    }

    fn int(&self, what: &str, lo: i64, hi: i64) -> Result<i64, EditError> {
        let v = self.required(what, &format!("an integer from {lo} to {hi}"))?;
        self.int_of(v, what, lo, hi)
    }

    fn int_of(&self, text: &str, what: &str, lo: i64, hi: i64) -> Result<i64, EditError> {
        match text.trim().parse::<i64>() {
            Ok(n) if (lo..=hi).contains(&n) => Ok(n),
            _ => Err(self.error(format!(
                "{what} must be an integer from {lo} to {hi}, got \"{}\"",
                text.trim()
            ))),
        }
    }

    fn float(&self, what: &str, lo: Bound, hi: f32) -> Result<f32, EditError> {
        let v = self.required(what, &range_text(lo, hi))?;
        self.float_of(v, what, lo, hi)
    }

    fn float_of(&self, text: &str, what: &str, lo: Bound, hi: f32) -> Result<f32, EditError> {
        let ok = |x: f32| {
            x.is_finite()
                && x <= hi
                && match lo {
                    Bound::Above(l) => x > l,
                    Bound::AtLeast(l) => x >= l,
                }
        };
        match text.trim().parse::<f32>() {
            // `+ 0.0` turns -0 into 0, so that both print the same.
            Ok(x) if ok(x) => Ok(x + 0.0),
            _ => Err(self.error(format!(
                "{what} must be a number {}, got \"{}\"",
                range_text(lo, hi),
                text.trim()
            ))),
        }
    }

    /// A caption: `"…"` with `\"` and `\\` escapes, or bare text without
    /// quotes, `+`, `;` or `#`.
    fn text(&self) -> Result<String, EditError> {
        let v = self.required("\"…\"", "a quoted caption")?;
        let text = if let Some(inner) = v.strip_prefix('"') {
            let mut out = String::new();
            let mut chars = inner.chars();
            let mut closed = false;
            while let Some(c) = chars.next() {
                match c {
                    '\\' => match chars.next() {
                        Some(e) => out.push(e),
                        None => break,
                    },
                    '"' => {
                        closed = true;
                        break;
                    }
                    c => out.push(c),
                }
            }
            if !closed {
                return Err(self.error("the caption's closing quote is missing".into()));
            }
            let rest: String = chars.collect();
            if !rest.trim().is_empty() {
                return Err(self.error(format!(
                    "unexpected \"{}\" after the caption's closing quote",
                    rest.trim()
                )));
            }
            out
        } else {
            v.to_string()
        };
        let n = text.chars().count();
        if n == 0 || n > MAX_TEXT_CHARS {
            return Err(self.error(format!(
                "the caption must have 1 to {MAX_TEXT_CHARS} characters, got {n}"
            )));
        }
        if text.chars().any(char::is_control) {
            return Err(
                self.error("the caption must be one line without control characters".into())
            );
        }
        Ok(text)
    }
}

fn range_text(lo: Bound, hi: f32) -> String {
    match lo {
        Bound::Above(l) => format!("above {l} up to {hi}"),
        Bound::AtLeast(l) => format!("from {l} to {hi}"),
    }
}

/// Splits `text` at `sep` outside double quotes (a caption may hold `+`
/// and `;`); a backslash inside quotes escapes the next character. A `+`
/// right after `:` or `,` is a sign (`brightness:+20`), not a separator.
fn split_outside_quotes(text: &str, sep: char) -> Result<Vec<&str>, String> {
    let mut parts = Vec::new();
    let (mut start, mut quoted, mut escaped) = (0, false, false);
    let mut prev = None;
    for (i, c) in text.char_indices() {
        if escaped {
            escaped = false;
        } else if quoted && c == '\\' {
            escaped = true;
        } else if c == '"' {
            quoted = !quoted;
        } else if c == sep && !quoted && !(c == '+' && matches!(prev, Some(':' | ','))) {
            parts.push(&text[start..i]);
            start = i + c.len_utf8();
        }
        prev = Some(c);
    }
    if quoted {
        return Err("a caption's closing quote is missing".into());
    }
    parts.push(&text[start..]);
    Ok(parts)
}

/// `line` up to a `#` outside quotes.
fn strip_comment(line: &str) -> &str {
    let (mut quoted, mut escaped) = (false, false);
    for (i, c) in line.char_indices() {
        if escaped {
            escaped = false;
        } else if quoted && c == '\\' {
            escaped = true;
        } else if c == '"' {
            quoted = !quoted;
        } else if c == '#' && !quoted {
            return &line[..i];
        }
    }
    line
}
