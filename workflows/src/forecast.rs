//! The burn-down's forecast: where a campaign will stand at its deadline
//! at the pace of its recent days. Pure arithmetic, no I/O.
//!
//! Method (named in docs/web.md): an ordinary least-squares line through
//! the open count of the last [`WINDOW_DAYS`] days that have a count,
//! projected to the deadline. The band is the line's 95 % prediction
//! interval (two standard errors: the scatter of the days around the line,
//! and the uncertainty of the slope, which grows with the distance
//! projected). When the line reaches zero before the deadline, the
//! forecast is the day it does, with the days the band's steepest and
//! flattest slopes give. Fewer than three days of history give no
//! forecast: two points always fit a line exactly and say nothing of
//! their spread.

use chrono::{Duration, NaiveDate};
use serde::Serialize;

/// Days of recent history the pace is fitted over.
pub const WINDOW_DAYS: i64 = 14;

/// Fewest days with a count for a forecast.
pub const MIN_DAYS: usize = 3;

/// What the pace so far says.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "outlook", rename_all = "snake_case")]
pub enum Forecast {
    /// Not enough history yet.
    TooEarly {
        /// Days with a count.
        days: usize,
    },
    /// Nothing is left open.
    Done,
    /// At this pace, machines will still be open on the deadline.
    OpenAtDeadline {
        /// The deadline.
        deadline: NaiveDate,
        /// Machines open then, by the fitted line.
        open: i64,
        /// The band's low end.
        low: i64,
        /// The band's high end.
        high: i64,
        /// Machines closed a day, by the fitted line (0 when the pace is
        /// flat or going backwards).
        per_day: f64,
    },
    /// At this pace, the last machine is done on `day` (before the
    /// deadline, or after it when it has passed).
    DoneBy {
        /// The day the line reaches zero.
        day: NaiveDate,
        /// The earliest day the band allows.
        earliest: NaiveDate,
        /// The latest day the band allows (`None`: the slowest pace the
        /// band allows never gets there).
        latest: Option<NaiveDate>,
        /// Machines closed a day, by the fitted line.
        per_day: f64,
    },
}

/// The forecast from daily open counts (any order; one per day), as of
/// `today`, for a campaign due on `deadline`.
pub fn forecast(history: &[(NaiveDate, i64)], today: NaiveDate, deadline: NaiveDate) -> Forecast {
    let mut points: Vec<(NaiveDate, i64)> = history
        .iter()
        .copied()
        .filter(|(d, _)| *d <= today && (today - *d).num_days() < WINDOW_DAYS)
        .collect();
    points.sort_by_key(|(d, _)| *d);
    points.dedup_by_key(|(d, _)| *d);
    if points.last().is_some_and(|(_, open)| *open == 0) {
        return Forecast::Done;
    }
    if points.len() < MIN_DAYS {
        return Forecast::TooEarly { days: points.len() };
    }
    // x: days relative to today (negative in the past), y: open.
    let xs: Vec<f64> = points
        .iter()
        .map(|(d, _)| (*d - today).num_days() as f64)
        .collect();
    let ys: Vec<f64> = points.iter().map(|(_, o)| *o as f64).collect();
    let n = xs.len() as f64;
    let mean_x = xs.iter().sum::<f64>() / n;
    let mean_y = ys.iter().sum::<f64>() / n;
    let sxx: f64 = xs.iter().map(|x| (x - mean_x).powi(2)).sum();
    let sxy: f64 = xs
        .iter()
        .zip(&ys)
        .map(|(x, y)| (x - mean_x) * (y - mean_y))
        .sum();
    let slope = sxy / sxx;
    let intercept = mean_y - slope * mean_x;
    let residual: f64 = xs
        .iter()
        .zip(&ys)
        .map(|(x, y)| (y - (intercept + slope * x)).powi(2))
        .sum();
    let scatter = (residual / (n - 2.0)).sqrt();
    let slope_error = scatter / sxx.sqrt();
    let per_day = (-slope).max(0.0);

    let to_deadline = (deadline - today).num_days() as f64;
    let at = |x: f64| intercept + slope * x;
    let band = |x: f64| {
        2.0 * (scatter.powi(2) * (1.0 + 1.0 / n) + (slope_error * (x - mean_x)).powi(2)).sqrt()
    };
    let zero_at = |s: f64| (s < 0.0).then(|| -intercept / s);
    let day_at = |x: f64| today + Duration::days(x.ceil().clamp(0.0, 36_500.0) as i64);

    match zero_at(slope) {
        Some(x) if x <= to_deadline || to_deadline < 0.0 => {
            let steep = zero_at(slope - 2.0 * slope_error).unwrap_or(x);
            let flat = zero_at(slope + 2.0 * slope_error);
            Forecast::DoneBy {
                day: day_at(x),
                earliest: day_at(steep.min(x)),
                latest: flat.map(|f| day_at(f.max(x))),
                per_day,
            }
        }
        _ => {
            let x = to_deadline.max(0.0);
            let open = at(x).max(0.0);
            let spread = band(x);
            Forecast::OpenAtDeadline {
                deadline,
                open: open.round() as i64,
                low: (open - spread).max(0.0).round() as i64,
                high: (open + spread).round() as i64,
                per_day,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").expect("date")
    }

    /// `open` on each of the days before and including `today`.
    fn history(today: &str, open: &[i64]) -> Vec<(NaiveDate, i64)> {
        let today = d(today);
        let n = open.len() as i64;
        open.iter()
            .enumerate()
            .map(|(i, o)| (today - Duration::days(n - 1 - i as i64), *o))
            .collect()
    }

    #[test]
    fn a_steady_pace_that_misses_the_deadline_says_how_many_will_still_be_open() {
        // 1,000 open, 10 closed a day, 30 days to go: 700 left, exactly.
        let h = history(
            "2027-06-01",
            &[1090, 1080, 1070, 1060, 1050, 1040, 1030, 1020, 1010, 1000],
        );
        let f = forecast(&h, d("2027-06-01"), d("2027-07-01"));
        assert_eq!(
            f,
            Forecast::OpenAtDeadline {
                deadline: d("2027-07-01"),
                open: 700,
                low: 700,
                high: 700,
                per_day: 10.0
            }
        );
    }

    #[test]
    fn a_pace_that_finishes_early_names_the_day_and_its_band() {
        // 100 open, 10 a day with some scatter: done in about ten days.
        let h = history("2027-06-01", &[160, 152, 138, 131, 118, 112, 100]);
        let Forecast::DoneBy {
            day,
            earliest,
            latest,
            per_day,
        } = forecast(&h, d("2027-06-01"), d("2027-12-31"))
        else {
            panic!("expected a day");
        };
        assert!((9.0..=11.0).contains(&per_day), "{per_day}");
        assert!(day >= d("2027-06-10") && day <= d("2027-06-12"), "{day}");
        assert!(earliest <= day && latest.expect("a latest day") >= day);
        assert!(latest.expect("latest") > earliest, "scatter gives a band");
    }

    #[test]
    fn scatter_widens_the_band_around_the_projection() {
        let steady = history("2027-06-01", &[200, 195, 190, 185, 180, 175, 170]);
        let noisy = history("2027-06-01", &[200, 185, 198, 175, 190, 165, 180]);
        let width = |h: &[(NaiveDate, i64)]| match forecast(h, d("2027-06-01"), d("2027-06-21")) {
            Forecast::OpenAtDeadline { low, high, .. } => high - low,
            other => panic!("expected open at the deadline, got {other:?}"),
        };
        assert_eq!(width(&steady), 0);
        assert!(width(&noisy) > 20, "{}", width(&noisy));
    }

    #[test]
    fn no_progress_projects_todays_count_to_the_deadline() {
        let h = history("2027-06-01", &[83, 83, 83, 83]);
        assert_eq!(
            forecast(&h, d("2027-06-01"), d("2027-06-30")),
            Forecast::OpenAtDeadline {
                deadline: d("2027-06-30"),
                open: 83,
                low: 83,
                high: 83,
                per_day: 0.0
            }
        );
    }

    #[test]
    fn two_days_of_history_are_too_few_and_none_open_is_done() {
        assert_eq!(
            forecast(
                &history("2027-06-01", &[10, 9]),
                d("2027-06-01"),
                d("2027-07-01")
            ),
            Forecast::TooEarly { days: 2 }
        );
        assert_eq!(
            forecast(
                &history("2027-06-01", &[3, 1, 0]),
                d("2027-06-01"),
                d("2027-07-01")
            ),
            Forecast::Done
        );
        assert_eq!(
            forecast(&[], d("2027-06-01"), d("2027-07-01")),
            Forecast::TooEarly { days: 0 }
        );
    }

    #[test]
    fn only_the_recent_window_sets_the_pace() {
        // A fast first month, then 2 a day for the last fortnight.
        let mut open: Vec<i64> = (0..30).map(|i| 1000 - 20 * i).collect();
        let last = *open.last().expect("last");
        open.extend((1..=14).map(|i| last - 2 * i));
        let f = forecast(
            &history("2027-06-01", &open),
            d("2027-06-01"),
            d("2027-06-11"),
        );
        let Forecast::OpenAtDeadline { per_day, open, .. } = f else {
            panic!("{f:?}")
        };
        assert!((per_day - 2.0).abs() < 1e-9, "{per_day}");
        assert_eq!(open, 392 - 20);
    }

    #[test]
    fn past_the_deadline_the_forecast_is_the_day_the_rest_will_be_done() {
        let h = history("2027-08-01", &[50, 45, 40, 35, 30]);
        let f = forecast(&h, d("2027-08-01"), d("2027-07-01"));
        assert!(
            matches!(f, Forecast::DoneBy { day, .. } if day == d("2027-08-07")),
            "{f:?}"
        );
    }
}
