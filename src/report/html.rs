//! HTML: the [`Html`] exporter (any [`Tabular`] result as a `<table>`) and
//! [`Page`], one self-contained report file — headings, prose, tables,
//! inline SVG [`Chart`]s and inline PNG images, its style in the page, no
//! request to the network — that `eval rates`, `attack`, `scenario` and the
//! web page build the same way.
//!
//! ```
//! use cssim::report::html::Page;
//! use cssim::report::chart::Chart;
//! let mut page = Page::new("Rates & thresholds");
//! page.heading("Summary").paragraph("125 photos, 4 algorithms.");
//! page.chart(&Chart::lines("ROC", "FMR", "detection").series("pdq", vec![(0.0, 0.5), (1.0, 1.0)])).unwrap();
//! let html = page.render();
//! assert!(html.starts_with("<!DOCTYPE html>") && html.contains("Rates &amp; thresholds"));
//! ```

use std::fmt::Write as _;

use base64::Engine as _;

use super::chart::{self, Chart};
use super::{Align, Cell, Error, Exporter, Tabular, Tone};

/// Escapes text for HTML element content and attribute values.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// Renders [`Tabular`] results as HTML tables. A stream (header, then
/// records) is a run of `<tr>` rows, to be put inside a `<table>`; a
/// [`document`](Exporter::document) is a whole `<table>`, with the
/// preamble and epilogue as paragraphs around it. Tones become the classes
/// `alarm` and `calm`; right-aligned columns the class `num`.
#[derive(Clone, Copy, Debug, Default)]
pub struct Html;

fn class(align: Align, tone: Tone) -> String {
    let mut classes = Vec::new();
    if align == Align::Right {
        classes.push("num");
    }
    match tone {
        Tone::Alarm => classes.push("alarm"),
        Tone::Calm => classes.push("calm"),
        Tone::Plain => {}
    }
    if classes.is_empty() {
        String::new()
    } else {
        format!(" class=\"{}\"", classes.join(" "))
    }
}

impl Exporter for Html {
    fn header<T: Tabular>(&self) -> String {
        let mut out = String::from("<tr>");
        for column in T::columns() {
            let _ = write!(
                out,
                "<th{}>{}</th>",
                class(column.align, Tone::Plain),
                escape(column.name)
            );
        }
        out.push_str("</tr>\n");
        out
    }

    fn record<T: Tabular>(&self, result: &T) -> Result<String, Error> {
        let columns = T::columns();
        let mut out = String::new();
        for row in result.rows() {
            out.push_str("<tr>");
            for (i, cell) in row.iter().enumerate() {
                let align = columns.get(i).map_or(Align::Left, |c| c.align);
                let Cell { text, tone } = cell;
                let _ = write!(out, "<td{}>{}</td>", class(align, *tone), escape(text));
            }
            out.push_str("</tr>\n");
        }
        Ok(out)
    }

    fn document<T: Tabular>(&self, result: &T) -> Result<String, Error> {
        let mut out = String::new();
        for line in result.preamble() {
            let _ = writeln!(out, "<p>{}</p>", escape(&line));
        }
        out.push_str("<table>\n<thead>");
        out.push_str(&self.header::<T>());
        out.push_str("</thead>\n<tbody>\n");
        out.push_str(&self.record(result)?);
        out.push_str("</tbody>\n</table>\n");
        for line in result.epilogue() {
            let _ = writeln!(out, "<p>{}</p>", escape(&line));
        }
        Ok(out)
    }
}

/// One self-contained HTML report, built top to bottom.
#[derive(Clone, Debug)]
pub struct Page {
    title: String,
    body: String,
}

/// The page's style: readable printed, on a laptop and on a projector.
const STYLE: &str = "\
body{font:16px/1.45 system-ui,-apple-system,'Segoe UI',sans-serif;color:#111;background:#fff;max-width:1100px;margin:2em auto;padding:0 1em}\
h1{font-size:1.8em;margin-bottom:.2em}h2{margin-top:1.8em;border-bottom:1px solid #ccc}\
table{border-collapse:collapse;margin:1em 0;font-variant-numeric:tabular-nums}\
th,td{padding:.25em .7em;border-bottom:1px solid #e3e3e3;text-align:left;vertical-align:top}\
th{background:#f3f3f3}.num{text-align:right}.alarm{color:#b00020;font-weight:600}.calm{color:#0a6b2e}\
.note{color:#555;font-size:.92em}figure{display:inline-block;margin:.5em 1em .5em 0;vertical-align:top}\
figure img{max-width:320px;image-rendering:auto;border:1px solid #ccc}figcaption{font-size:.85em;color:#444;max-width:320px;overflow-wrap:anywhere}\
dl{display:grid;grid-template-columns:max-content auto;gap:.2em 1em}dt{font-weight:600}dd{margin:0}\
svg{max-width:100%;height:auto}code{font-size:.95em}";

impl Page {
    /// An empty page with this title (also its first heading).
    pub fn new(title: &str) -> Page {
        Page {
            title: title.to_string(),
            body: String::new(),
        }
    }

    /// A section heading.
    pub fn heading(&mut self, text: &str) -> &mut Page {
        let _ = writeln!(self.body, "<h2>{}</h2>", escape(text));
        self
    }

    /// A paragraph of prose.
    pub fn paragraph(&mut self, text: &str) -> &mut Page {
        let _ = writeln!(self.body, "<p>{}</p>", escape(text));
        self
    }

    /// A paragraph in small grey type (a caveat, a source).
    pub fn note(&mut self, text: &str) -> &mut Page {
        let _ = writeln!(self.body, "<p class=\"note\">{}</p>", escape(text));
        self
    }

    /// Text in a `<pre>` block (a command line).
    pub fn code(&mut self, text: &str) -> &mut Page {
        let _ = writeln!(self.body, "<pre><code>{}</code></pre>", escape(text));
        self
    }

    /// Terms and their values (the configuration of a run).
    pub fn facts<K: AsRef<str>, V: AsRef<str>>(&mut self, facts: &[(K, V)]) -> &mut Page {
        self.body.push_str("<dl>");
        for (k, v) in facts {
            let _ = write!(
                self.body,
                "<dt>{}</dt><dd>{}</dd>",
                escape(k.as_ref()),
                escape(v.as_ref())
            );
        }
        self.body.push_str("</dl>\n");
        self
    }

    /// A result as a table, by the [`Html`] exporter.
    pub fn table<T: Tabular>(&mut self, result: &T) -> Result<&mut Page, Error> {
        self.body.push_str(&Html.document(result)?);
        Ok(self)
    }

    /// A chart, inline SVG.
    pub fn chart(&mut self, chart: &Chart) -> Result<&mut Page, chart::Error> {
        let svg = chart.svg()?;
        let _ = writeln!(self.body, "<div class=\"chart\">{svg}</div>");
        Ok(self)
    }

    /// A row of captioned PNG images, inline as `data:` URIs.
    pub fn images<C: AsRef<str>>(&mut self, images: &[(C, Vec<u8>)]) -> &mut Page {
        self.body.push_str("<div class=\"images\">");
        for (caption, png) in images {
            let data = base64::engine::general_purpose::STANDARD.encode(png);
            let caption = escape(caption.as_ref());
            let _ = write!(
                self.body,
                "<figure><img alt=\"{caption}\" src=\"data:image/png;base64,{data}\"><figcaption>{caption}</figcaption></figure>"
            );
        }
        self.body.push_str("</div>\n");
        self
    }

    /// The whole page.
    pub fn render(&self) -> String {
        let title = escape(&self.title);
        format!(
            "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
             <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
             <title>{title}</title>\n<style>{STYLE}</style>\n</head>\n<body>\n<h1>{title}</h1>\n{}</body>\n</html>\n",
            self.body
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::Column;

    #[derive(serde::Serialize)]
    struct Row {
        name: String,
        rate: f64,
    }

    impl Tabular for Row {
        fn columns() -> Vec<Column> {
            vec![Column::left("NAME", 4), Column::right("RATE", 4)]
        }
        fn rows(&self) -> Vec<Vec<Cell>> {
            vec![vec![
                self.name.as_str().into(),
                Cell::toned(format!("{}", self.rate), Tone::Alarm),
            ]]
        }
        fn epilogue(&self) -> Vec<String> {
            vec!["done".into()]
        }
    }

    #[test]
    fn a_table_escapes_its_cells_and_carries_alignment_and_tone() {
        let html = Html
            .document(&Row {
                name: "<script>x</script>".into(),
                rate: 0.5,
            })
            .unwrap();
        assert_eq!(
            html,
            "<table>\n<thead><tr><th>NAME</th><th class=\"num\">RATE</th></tr>\n</thead>\n<tbody>\n\
             <tr><td>&lt;script&gt;x&lt;/script&gt;</td><td class=\"num alarm\">0.5</td></tr>\n\
             </tbody>\n</table>\n<p>done</p>\n"
        );
    }

    #[test]
    fn a_page_is_one_self_contained_file() {
        let mut page = Page::new("Report");
        page.heading("A \"quoted\" heading")
            .facts(&[("corpus", "photos/")])
            .images(&[("a.png", vec![0x89, b'P', b'N', b'G'])]);
        page.chart(&Chart::bars("h", "d", "n").series("s", vec![(0.0, 1.0)]))
            .unwrap();
        let html = page.render();
        assert!(html.contains("<h2>A &quot;quoted&quot; heading</h2>"));
        assert!(html.contains("src=\"data:image/png;base64,iVBORw==\""));
        assert!(html.contains("<dt>corpus</dt><dd>photos/</dd>"));
        assert!(html.contains("<svg"));
        // Nothing is fetched: no external script, style, image or font. (The
        // SVG namespace is an identifier, not a request.)
        let without_namespace = html.replace("xmlns=\"http://www.w3.org/2000/svg\"", "");
        for needle in ["src=\"http", "href=\"http", "url(http", "<script", "<link"] {
            assert!(!without_namespace.contains(needle), "{needle}");
        }
    }
}
