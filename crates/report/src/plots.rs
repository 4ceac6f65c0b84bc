//! Learning-curve figures drawn with plotters' SVG backend: one line per grid point (the median
//! over seeds) with its interquartile band shaded and, up to [`MAX_SEED_LINES`] seeds, every
//! seed's own curve as a thin line; losses and errors on a log scale when they span more than a
//! decade. Quartiles stay inside the range the seeds' values span, so no band leaves the
//! metric's range.

use plotters::coord::ranged1d::{AsRangedCoord, ValueFormatter};
use plotters::prelude::*;

use crate::curves::Curves;
use crate::error::ReportError;
use crate::published::higher_is_better;

pub(crate) const SIZE: (u32, u32) = (720, 420);

/// Points drawn per line at most (a long curve is drawn through evenly spaced evaluations, its
/// first and last kept): a plot of 500 evaluations × 120 seeds stays a small SVG.
const MAX_LINE_POINTS: usize = 200;
/// Lines with at most this many points also get a marker at each.
const MAX_MARKERS: usize = 60;

/// At most `max` of `points`, evenly spaced, the first and the last kept.
fn thinned<T: Copy>(points: &[T], max: usize) -> Vec<T> {
    if points.len() <= max || max < 2 {
        return points.to_vec();
    }
    let last = points.len() - 1;
    (0..max).map(|i| points[i * last / (max - 1)]).collect()
}

/// Grid points with at most this many seeds show each seed's curve.
pub const MAX_SEED_LINES: usize = 20;

/// Colours that stay apart on white and for common colour blindness (Okabe–Ito).
const COLORS: [RGBColor; 8] = [
    RGBColor(0, 114, 178),
    RGBColor(213, 94, 0),
    RGBColor(0, 158, 115),
    RGBColor(204, 121, 167),
    RGBColor(230, 159, 0),
    RGBColor(86, 180, 233),
    RGBColor(120, 120, 120),
    RGBColor(0, 0, 0),
];

/// The colour of the `i`-th line: the palette first, then hues spread by the golden ratio, so
/// that every line of a plot has its own colour however many there are.
pub(crate) fn color(i: usize) -> RGBColor {
    if let Some(c) = COLORS.get(i) {
        return *c;
    }
    let hue = ((i - COLORS.len()) as f64 * 0.618_033_988_75 + 0.1) % 1.0;
    let (r, g, b) = plotters::style::HSLColor(hue, 0.75, 0.4).rgb();
    RGBColor(r, g, b)
}

/// The SVG of metric `m` (an index into `curves.metrics`); `None` when no line has a finite value.
pub fn curve_svg(curves: &Curves, m: usize) -> Result<Option<String>, ReportError> {
    let metric = &curves.metrics[m];
    let (mut x_lo, mut x_hi) = (f64::INFINITY, f64::NEG_INFINITY);
    let (mut y_lo, mut y_hi) = (f64::INFINITY, f64::NEG_INFINITY);
    let mut min_positive = f64::INFINITY;
    for line in &curves.lines {
        let band = &line.bands[m];
        let seeds = if band.seeds.len() <= MAX_SEED_LINES { band.seeds.as_slice() } else { &[] };
        let quartiles = line.steps.iter().enumerate().flat_map(|(j, &x)| {
            [(x, band.median[j]), (x, band.q25[j]), (x, band.q75[j])]
                .into_iter()
                .filter(move |_| band.median[j].is_finite())
        });
        for (x, y) in quartiles.chain(seeds.iter().flatten().copied()).filter(|(_, y)| y.is_finite()) {
            x_lo = x_lo.min(x);
            x_hi = x_hi.max(x);
            y_lo = y_lo.min(y);
            y_hi = y_hi.max(y);
            if y > 0.0 {
                min_positive = min_positive.min(y);
            }
        }
    }
    // x_lo moves only at a finite value.
    if !x_lo.is_finite() {
        return Ok(None);
    }
    if x_hi <= x_lo {
        x_hi = x_lo + 1.0;
    }
    // Log scale for losses and errors that span more than a decade; within one, a log axis
    // has a single labelled tick and a linear one reads better.
    let log = !higher_is_better(metric) && min_positive.is_finite() && y_hi > 10.0 * min_positive;
    let mut svg = String::new();
    let title = format!("{metric}: median and interquartile range over seeds");
    let err = |e: String| ReportError::Plot { metric: metric.clone(), message: e };
    {
        let root = SVGBackend::with_string(&mut svg, SIZE).into_drawing_area();
        root.fill(&WHITE).map_err(|e| err(e.to_string()))?;
        if log {
            // A seed may reach 0; the log axis starts a little under the smallest positive value.
            let floor = (y_lo.max(min_positive * 0.5)).max(1e-12);
            let (lo, hi) = (floor * 0.9, y_hi.max(floor * 1.01) * 1.1);
            draw(&root, curves, m, &title, x_lo..x_hi, (lo..hi).log_scale(), floor).map_err(err)?;
        } else {
            // A flat curve (e.g. accuracy 1.0 throughout) still gets a readable axis.
            let pad = ((y_hi - y_lo) * 0.05).max(y_hi.abs().max(y_lo.abs()) * 0.01).max(1e-9);
            let (mut lo, mut hi) = (y_lo - pad, y_hi + pad);
            if rnnlab_spec::vocab::find_metric(metric).is_some_and(|m| m.kind == rnnlab_spec::MetricKind::Accuracy) {
                lo = lo.max(0.0);
                hi = hi.min(1.0 + pad);
            }
            draw(&root, curves, m, &title, x_lo..x_hi, lo..hi, f64::NEG_INFINITY).map_err(err)?;
        }
        root.present().map_err(|e| err(e.to_string()))?;
    }
    Ok(Some(svg))
}

/// A short axis label: up to four significant digits, scientific outside [1e-3, 1e5).
pub(crate) fn tick(v: f64) -> String {
    if v == 0.0 {
        return "0".into();
    }
    if !(1e-3..1e5).contains(&v.abs()) {
        return format!("{v:.1e}");
    }
    let digits = (3 - v.abs().log10().floor() as i32).max(0) as usize;
    let s = format!("{v:.digits$}");
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        s
    }
}

/// The label of a log axis's tick at `v` = log10 of the value: two significant digits (log
/// ticks fall between round numbers).
pub(crate) fn log_tick(v: f64) -> String {
    tick(format!("{:.1e}", 10f64.powf(v)).parse().unwrap_or(f64::NAN))
}

/// Draws axes, bands, lines and the legend; band values are clamped at `floor`.
fn draw<DB: DrawingBackend, Y>(
    root: &DrawingArea<DB, plotters::coord::Shift>,
    curves: &Curves,
    m: usize,
    title: &str,
    x: std::ops::Range<f64>,
    y: Y,
    floor: f64,
) -> Result<(), String>
where
    Y: AsRangedCoord<Value = f64>,
    Y::CoordDescType: ValueFormatter<f64>,
{
    let e = |e: DrawingAreaErrorKind<DB::ErrorType>| e.to_string();
    let mut chart = ChartBuilder::on(root)
        .caption(title, ("sans-serif", 20))
        .margin(12)
        .x_label_area_size(40)
        .y_label_area_size(70)
        .build_cartesian_2d(x, y)
        .map_err(e)?;
    chart
        .configure_mesh()
        .x_desc("step")
        .y_desc(curves.metrics[m].as_str())
        .light_line_style(RGBColor(235, 235, 235))
        .x_labels(10)
        .y_labels(6)
        .x_label_formatter(&|v| format!("{v:.0}"))
        .y_label_formatter(&|v| tick(*v))
        .label_style(("sans-serif", 13))
        .draw()
        .map_err(e)?;
    let labels = curves.labels();
    for (i, line) in curves.lines.iter().enumerate() {
        let band = &line.bands[m];
        let c = color(i);
        if band.seeds.len() <= MAX_SEED_LINES {
            for seed in &band.seeds {
                let thin = thinned(seed, MAX_LINE_POINTS).into_iter().map(|(x, y)| (x, y.max(floor)));
                chart.draw_series(LineSeries::new(thin, c.mix(0.35).stroke_width(1))).map_err(e)?;
            }
        }
        let points: Vec<(f64, f64, f64, f64)> = (0..line.steps.len())
            .filter(|&j| band.median[j].is_finite())
            .map(|j| (line.steps[j], band.median[j], band.q25[j], band.q75[j]))
            .collect();
        let points = thinned(&points, MAX_LINE_POINTS);
        if points.is_empty() {
            continue;
        }
        let mut polygon: Vec<(f64, f64)> = points.iter().map(|&(x, _, _, hi)| (x, hi.max(floor))).collect();
        polygon.extend(points.iter().rev().map(|&(x, _, lo, _)| (x, lo.max(floor))));
        chart.draw_series(std::iter::once(Polygon::new(polygon, c.mix(0.18).filled()))).map_err(e)?;
        // Markers too, where they are few: a curve with few evaluations stays visible.
        let markers = if points.len() <= MAX_MARKERS { &points[..] } else { &[] };
        chart
            .draw_series(markers.iter().map(|&(x, median, _, _)| Circle::new((x, median.max(floor)), 3, c.filled())))
            .map_err(e)?;
        chart
            .draw_series(LineSeries::new(
                points.iter().map(|&(x, median, _, _)| (x, median.max(floor))),
                c.stroke_width(2),
            ))
            .map_err(e)?
            .label(labels[i].as_str())
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 18, y)], c.stroke_width(3)));
    }
    chart
        .configure_series_labels()
        .position(if higher_is_better(&curves.metrics[m]) {
            SeriesLabelPosition::LowerRight
        } else {
            SeriesLabelPosition::UpperRight
        })
        .background_style(WHITE.mix(0.85))
        .border_style(RGBColor(200, 200, 200))
        .label_font(("sans-serif", 13))
        .draw()
        .map_err(e)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    #[test]
    fn every_line_of_a_plot_gets_its_own_colour() {
        let colours: Vec<_> = (0..40).map(super::color).collect();
        for (i, a) in colours.iter().enumerate() {
            for b in &colours[i + 1..] {
                assert_ne!((a.0, a.1, a.2), (b.0, b.1, b.2), "line {i}'s colour repeats");
            }
        }
    }

    #[test]
    fn long_lines_are_thinned_evenly_keeping_both_ends() {
        let v: Vec<usize> = (0..1000).collect();
        let t = super::thinned(&v, 200);
        assert_eq!((t.len(), t[0], t[199]), (200, 0, 999));
        assert!(t.windows(2).all(|w| (4..=6).contains(&(w[1] - w[0]))), "evenly spaced");
        assert_eq!(super::thinned(&v[..50], 200), v[..50].to_vec(), "short lines are kept whole");
    }

    #[test]
    fn ticks_are_short() {
        assert_eq!(super::tick(0.30000000000000004), "0.3");
        assert_eq!(super::tick(0.125), "0.125");
        assert_eq!(super::tick(12.5), "12.5");
        assert_eq!(super::tick(1500.0), "1500");
        assert_eq!(super::tick(0.0001), "1.0e-4");
    }
}
