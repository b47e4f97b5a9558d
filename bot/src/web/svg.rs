//! Charts drawn on the server as SVG (no script, no external resource):
//! the campaign burn-down with its deadline and forecast band, and the
//! fleet's stacked bars of what ends each month. Each page shows the data
//! table beside its chart; the chart carries a title for screen readers.
//! Every text is escaped; colours are presentation attributes (the pages'
//! Content-Security-Policy allows no inline style).

use std::fmt::Write as _;

use chrono::NaiveDate;
use winventory_core::store::DayCount;
use winventory_workflows::forecast::Forecast;

/// Escape text for SVG/HTML.
pub fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
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

/// Colours for stacked series (distinguishable, enough contrast on white).
pub const PALETTE: [&str; 8] = [
    "#1f5fa8", "#c0392b", "#1e8449", "#8e44ad", "#b9770e", "#117a8b", "#6c3483", "#7b7d7d",
];

const W: f64 = 720.0;
const H: f64 = 260.0;
const LEFT: f64 = 52.0;
const RIGHT: f64 = 16.0;
const TOP: f64 = 14.0;
const BOTTOM: f64 = 34.0;

fn nice_max(v: i64) -> i64 {
    let v = v.max(1);
    let mag = 10_i64.pow((v as f64).log10().floor() as u32);
    for step in [1, 2, 5, 10] {
        if step * mag >= v {
            return step * mag;
        }
    }
    10 * mag
}

/// The burn-down: open machines day by day, the deadline, and the
/// forecast's line and band from today to the deadline (or to the day it
/// is done). `title` names it for screen readers.
pub fn burndown(
    days: &[DayCount],
    today: NaiveDate,
    deadline: NaiveDate,
    forecast: &Forecast,
    title: &str,
) -> String {
    let mut s = String::new();
    let Some(first) = days.first().map(|d| d.day) else {
        return s;
    };
    let end = match forecast {
        Forecast::DoneBy { day, latest, .. } => latest.unwrap_or(*day).max(deadline),
        _ => deadline,
    }
    .max(today)
    .max(first + chrono::Duration::days(1));
    let span = (end - first).num_days().max(1) as f64;
    let top = nice_max(
        days.iter()
            .map(|d| d.targets.max(d.open))
            .max()
            .unwrap_or(1),
    );
    let x = |d: NaiveDate| LEFT + (d - first).num_days() as f64 / span * (W - LEFT - RIGHT);
    let y = |v: f64| TOP + (1.0 - v / top as f64) * (H - TOP - BOTTOM);
    let _ = write!(
        s,
        r#"<svg class="chart" viewBox="0 0 {W} {H}" role="img" aria-labelledby="bd-title" xmlns="http://www.w3.org/2000/svg"><title id="bd-title">{}</title>"#,
        esc(title)
    );
    // Axes and grid.
    for i in 0..=4 {
        let v = top as f64 * i as f64 / 4.0;
        let yy = y(v);
        let _ = write!(
            s,
            r##"<line x1="{LEFT}" y1="{yy:.1}" x2="{:.1}" y2="{yy:.1}" stroke="#d5d8dc" stroke-width="1"/><text x="{:.1}" y="{:.1}" font-size="11" text-anchor="end" fill="#333">{}</text>"##,
            W - RIGHT,
            LEFT - 6.0,
            yy + 4.0,
            v.round() as i64
        );
    }
    for (d, anchor) in [(first, "start"), (end, "end")] {
        let _ = write!(
            s,
            r##"<text x="{:.1}" y="{:.1}" font-size="11" text-anchor="{anchor}" fill="#333">{}</text>"##,
            x(d),
            H - 12.0,
            d.format("%Y-%m-%d")
        );
    }
    // Deadline.
    let dx = x(deadline);
    let _ = write!(
        s,
        r##"<line x1="{dx:.1}" y1="{TOP}" x2="{dx:.1}" y2="{:.1}" stroke="#c0392b" stroke-width="2" stroke-dasharray="4 3"/><text x="{:.1}" y="{:.1}" font-size="11" text-anchor="end" fill="#a93226">{}</text>"##,
        H - BOTTOM,
        dx - 4.0,
        TOP + 10.0,
        deadline.format("%Y-%m-%d")
    );
    // Forecast band and line.
    let last = days.last().map(|d| (d.day, d.open as f64));
    if let Some((day, open)) = last {
        match forecast {
            Forecast::OpenAtDeadline {
                open: o, low, high, ..
            } => {
                let _ = write!(
                    s,
                    r##"<polygon points="{:.1},{:.1} {:.1},{:.1} {:.1},{:.1}" fill="#f5b7b1" fill-opacity="0.5"/><line x1="{:.1}" y1="{:.1}" x2="{:.1}" y2="{:.1}" stroke="#a93226" stroke-width="2" stroke-dasharray="6 4"/>"##,
                    x(day),
                    y(open),
                    x(deadline),
                    y(*high as f64),
                    x(deadline),
                    y(*low as f64),
                    x(day),
                    y(open),
                    x(deadline),
                    y(*o as f64)
                );
            }
            Forecast::DoneBy {
                day: done,
                earliest,
                latest,
                ..
            } => {
                let far = latest.unwrap_or(end);
                let _ = write!(
                    s,
                    r##"<polygon points="{:.1},{:.1} {:.1},{:.1} {:.1},{:.1}" fill="#abebc6" fill-opacity="0.5"/><line x1="{:.1}" y1="{:.1}" x2="{:.1}" y2="{:.1}" stroke="#1e8449" stroke-width="2" stroke-dasharray="6 4"/>"##,
                    x(day),
                    y(open),
                    x(*earliest),
                    y(0.0),
                    x(far),
                    y(0.0),
                    x(day),
                    y(open),
                    x(*done),
                    y(0.0)
                );
            }
            _ => {}
        }
    }
    // The open count.
    let points: Vec<String> = days
        .iter()
        .map(|d| format!("{:.1},{:.1}", x(d.day), y(d.open as f64)))
        .collect();
    let _ = write!(
        s,
        r##"<polyline data-series="open" points="{}" fill="none" stroke="#1f5fa8" stroke-width="2.5"/>"##,
        points.join(" ")
    );
    s.push_str("</svg>");
    s
}

/// One bar of a stacked chart: a label and its segments (series index,
/// value, link).
pub struct Bar {
    /// Under the bar.
    pub label: String,
    /// Segments bottom-up: (series index, value, link).
    pub segments: Vec<(usize, i64, String)>,
}

/// Stacked bars; `series` names each index (the legend). Each segment is a
/// link to what it counts, so the chart is a group of links for assistive
/// technology, not one image (axe: no interactive control inside an image).
pub fn stacked(bars: &[Bar], series: &[String], title: &str) -> String {
    let mut s = String::new();
    let top = nice_max(
        bars.iter()
            .map(|b| b.segments.iter().map(|x| x.1).sum::<i64>())
            .max()
            .unwrap_or(1),
    );
    let n = bars.len().max(1) as f64;
    let slot = (W - LEFT - RIGHT) / n;
    let legend_h = 18.0 * series.len().div_ceil(4) as f64;
    let h = H + legend_h;
    let y = |v: f64| TOP + (1.0 - v / top as f64) * (H - TOP - BOTTOM);
    let _ = write!(
        s,
        r#"<svg class="chart" viewBox="0 0 {W} {h}" role="group" aria-labelledby="st-title" xmlns="http://www.w3.org/2000/svg"><title id="st-title">{}</title>"#,
        esc(title)
    );
    for i in 0..=4 {
        let v = top as f64 * i as f64 / 4.0;
        let _ = write!(
            s,
            r##"<line x1="{LEFT}" y1="{yy:.1}" x2="{:.1}" y2="{yy:.1}" stroke="#d5d8dc"/><text x="{:.1}" y="{:.1}" font-size="11" text-anchor="end" fill="#333">{}</text>"##,
            W - RIGHT,
            LEFT - 6.0,
            y(v) + 4.0,
            v.round() as i64,
            yy = y(v)
        );
    }
    for (i, b) in bars.iter().enumerate() {
        let x0 = LEFT + i as f64 * slot + slot * 0.15;
        let bw = slot * 0.7;
        let mut base = 0.0;
        for (k, v, link) in &b.segments {
            if *v <= 0 {
                continue;
            }
            let y1 = y(base + *v as f64);
            let y0 = y(base);
            let _ = write!(
                s,
                r#"<a href="{}"><rect x="{x0:.1}" y="{y1:.1}" width="{bw:.1}" height="{:.1}" fill="{}"><title>{}: {} ({v})</title></rect></a>"#,
                esc(link),
                (y0 - y1).max(0.5),
                PALETTE[k % PALETTE.len()],
                esc(&b.label),
                esc(series.get(*k).map_or("", String::as_str)),
            );
            base += *v as f64;
        }
        if i % 3 == 0 {
            let _ = write!(
                s,
                r##"<text x="{:.1}" y="{:.1}" font-size="10" text-anchor="middle" fill="#333">{}</text>"##,
                x0 + bw / 2.0,
                H - 12.0,
                esc(&b.label)
            );
        }
    }
    for (k, name) in series.iter().enumerate() {
        let lx = LEFT + (k % 4) as f64 * 170.0;
        let ly = H + 4.0 + (k / 4) as f64 * 18.0;
        let _ = write!(
            s,
            r##"<rect x="{lx:.1}" y="{ly:.1}" width="12" height="12" fill="{}"/><text x="{:.1}" y="{:.1}" font-size="11" fill="#333">{}</text>"##,
            PALETTE[k % PALETTE.len()],
            lx + 16.0,
            ly + 10.0,
            esc(name)
        );
    }
    s.push_str("</svg>");
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").expect("date")
    }

    #[test]
    fn a_burndown_draws_one_point_a_day_the_deadline_and_the_forecast_band() {
        let days: Vec<DayCount> = (0..5)
            .map(|i| DayCount {
                day: d("2027-01-01") + chrono::Duration::days(i),
                targets: 100,
                open: 100 - 10 * i,
                answered: 10 * i,
                resolved: 0,
            })
            .collect();
        let f = Forecast::OpenAtDeadline {
            deadline: d("2027-01-10"),
            open: 10,
            low: 5,
            high: 15,
            per_day: 10.0,
        };
        let svg = burndown(
            &days,
            d("2027-01-05"),
            d("2027-01-10"),
            &f,
            "Open <machines>",
        );
        assert!(svg.starts_with("<svg") && svg.ends_with("</svg>"));
        assert!(
            svg.contains("<title id=\"bd-title\">Open &lt;machines&gt;</title>"),
            "escaped title"
        );
        let points = svg
            .split("data-series=\"open\" points=\"")
            .nth(1)
            .and_then(|r| r.split('"').next())
            .expect("the open line");
        assert_eq!(points.split(' ').count(), 5, "one point a day");
        assert!(svg.contains("<polygon"), "the band");
        assert!(svg.contains(">2027-01-10<"), "the deadline");
        assert!(!svg.contains("style="), "no inline style under the CSP");
    }

    #[test]
    fn stacked_bars_link_each_segment_and_escape_labels() {
        let bars = vec![Bar {
            label: "2027-01".into(),
            segments: vec![
                (0, 3, "/machines?os=windows&x=<1>".into()),
                (1, 2, "/machines?os=rhel".into()),
            ],
        }];
        let svg = stacked(&bars, &["Windows".into(), "RHEL \"8\"".into()], "Ending");
        assert_eq!(svg.matches("<a href=").count(), 2);
        assert!(svg.contains("/machines?os=windows&amp;x=&lt;1&gt;"));
        assert!(svg.contains("RHEL &quot;8&quot;"));
    }
}
