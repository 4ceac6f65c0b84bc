//! "Expected best after n trials" (Dodge et al. 2019, "Show Your Work"): how good the best of n
//! tuning trials of each compared value (e.g. each cell) is expected to be, from the trials the
//! sweep ran, so that a comparison of cells can be read at equal tuning budgets. For N trials
//! with values v₍₁₎ ≤ … ≤ v₍N₎ (the better end last), the expected best of n draws with
//! replacement is Σᵢ v₍ᵢ₎ · ((i/N)ⁿ − ((i−1)/N)ⁿ); its band is a percentile bootstrap over the
//! N trials ([`stats::RESAMPLES`] resamples, [`stats::SEED`]).

use plotters::prelude::*;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use crate::doc::{Block, Table};
use crate::error::ReportError;
use crate::plots::{color, tick, SIZE};
use crate::stats::{self, Interval};
use crate::summary::Summary;

/// One compared value's curve: the expected best after n = 1…N trials, with its band.
#[derive(Debug, Clone, PartialEq)]
pub struct Curve {
    pub value: String,
    pub at: Vec<Interval>,
}

/// The expected best of `n` draws from `values` (`higher`: larger is better).
pub fn expected_best(values: &[f64], n: usize, higher: bool) -> f64 {
    expected_best_of_sorted(&better_last(values, higher), n, higher)
}

/// `values` oriented so that larger is better, sorted ascending (the better end last).
fn better_last(values: &[f64], higher: bool) -> Vec<f64> {
    let mut v: Vec<f64> = values.iter().map(|&x| if higher { x } else { -x }).collect();
    v.sort_by(f64::total_cmp);
    v
}

/// [`expected_best`] of values already through [`better_last`].
fn expected_best_of_sorted(v: &[f64], n: usize, higher: bool) -> f64 {
    let big_n = v.len() as f64;
    let e: f64 = v
        .iter()
        .enumerate()
        .map(|(i, x)| x * (((i + 1) as f64 / big_n).powi(n as i32) - (i as f64 / big_n).powi(n as i32)))
        .sum();
    if higher {
        e
    } else {
        -e
    }
}

/// The curve of `values` for n = 1…N with bootstrap bands.
pub fn curve(values: &[f64], higher: bool) -> Vec<Interval> {
    let mut rng = StdRng::seed_from_u64(stats::SEED);
    let big_n = values.len();
    let mut draws: Vec<Vec<f64>> = vec![Vec::with_capacity(stats::RESAMPLES); big_n];
    let mut sample = vec![0.0; big_n];
    for _ in 0..stats::RESAMPLES {
        sample.iter_mut().for_each(|s| *s = values[rng.gen_range(0..big_n)]);
        // Sorted once per resample, not once per n.
        let sorted = better_last(&sample, higher);
        for (n, d) in draws.iter_mut().enumerate() {
            d.push(expected_best_of_sorted(&sorted, n + 1, higher));
        }
    }
    let sorted = better_last(values, higher);
    draws
        .into_iter()
        .enumerate()
        .map(|(n, mut d)| {
            d.sort_by(f64::total_cmp);
            let value = expected_best_of_sorted(&sorted, n + 1, higher);
            Interval { value, lo: stats::quantile_sorted(&d, 0.025), hi: stats::quantile_sorted(&d, 0.975) }
        })
        .collect()
}

/// Every value of `axis` with at least two ok trials of `metric`, and its trials' values.
fn trials(summary: &Summary, axis: &str, metric: &str) -> Vec<(String, Vec<f64>)> {
    let (Some(ka), Some(km)) =
        (summary.grid.iter().position(|g| g == axis), summary.metrics.iter().position(|m| m == metric))
    else {
        return Vec::new();
    };
    let mut groups: Vec<(String, Vec<f64>)> = Vec::new();
    for row in &summary.rows {
        let Some(stat) = &row.stats[km] else { continue };
        let values = stat.values.iter().copied().filter(|v| v.is_finite());
        match groups.iter_mut().find(|(v, _)| *v == row.point[ka]) {
            Some((_, vs)) => vs.extend(values),
            None => groups.push((row.point[ka].clone(), values.collect())),
        }
    }
    groups.retain(|(_, vs)| vs.len() >= 2);
    groups
}

/// The smallest budget from which `a`'s band stays wholly better than `b`'s, up to the
/// budget both reach.
fn separates(a: &[Interval], b: &[Interval], higher: bool) -> Option<usize> {
    let reach = a.len().min(b.len());
    let apart = |n: usize| if higher { a[n].lo > b[n].hi } else { a[n].hi < b[n].lo };
    (0..reach).rev().take_while(|&n| apart(n)).last().map(|n| n + 1)
}

/// The curves as an SVG: each value's expected best against n, its band shaded.
fn svg(curves: &[Curve], axis: &str, metric: &str) -> Result<String, ReportError> {
    let err = |e: String| ReportError::Plot { metric: format!("expected best {metric}"), message: e };
    let all = curves.iter().flat_map(|c| c.at.iter().flat_map(|i| [i.lo, i.hi]));
    let (lo, hi) =
        all.filter(|v| v.is_finite()).fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), v| (a.min(v), b.max(v)));
    let pad = ((hi - lo) * 0.05).max(1e-9);
    let most = curves.iter().map(|c| c.at.len()).max().unwrap_or(1) as f64;
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, SIZE).into_drawing_area();
        root.fill(&WHITE).map_err(|e| err(e.to_string()))?;
        let e = |e: DrawingAreaErrorKind<std::io::Error>| err(e.to_string());
        let mut chart = ChartBuilder::on(&root)
            .caption(format!("expected best {metric} after n trials"), ("sans-serif", 20))
            .margin(12)
            .x_label_area_size(40)
            .y_label_area_size(70)
            .build_cartesian_2d(1.0..most.max(2.0), (lo - pad)..(hi + pad))
            .map_err(e)?;
        chart
            .configure_mesh()
            .x_desc("trials of tuning n")
            .y_desc(metric)
            .light_line_style(RGBColor(235, 235, 235))
            .x_label_formatter(&|v| format!("{v:.0}"))
            .y_label_formatter(&|v| tick(*v))
            .label_style(("sans-serif", 13))
            .draw()
            .map_err(e)?;
        for (k, c) in curves.iter().enumerate() {
            let colour = color(k);
            let at = |n: usize, v: f64| ((n + 1) as f64, v);
            let mut band: Vec<(f64, f64)> = c.at.iter().enumerate().map(|(n, i)| at(n, i.hi)).collect();
            band.extend(c.at.iter().enumerate().rev().map(|(n, i)| at(n, i.lo)));
            chart.draw_series(std::iter::once(Polygon::new(band, colour.mix(0.18).filled()))).map_err(e)?;
            chart
                .draw_series(LineSeries::new(
                    c.at.iter().enumerate().map(|(n, i)| at(n, i.value)),
                    colour.stroke_width(2),
                ))
                .map_err(e)?
                .label(format!("{axis} = {}", c.value))
                .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 18, y)], colour.stroke_width(3)));
        }
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::LowerRight)
            .background_style(WHITE.mix(0.85))
            .border_style(RGBColor(200, 200, 200))
            .label_font(("sans-serif", 13))
            .draw()
            .map_err(e)?;
        root.present().map_err(|e| err(e.to_string()))?;
    }
    Ok(svg)
}

/// The report's section: a table of the curves at n = 1, 2, 4, … and N, a sentence for each
/// pair whose curves separate, and a plot (`plots/expected_best_<metric>.svg`, written by the
/// caller from the `Figure` block); empty unless two values of `axis` each have several
/// trials from more than one grid point (something was tuned).
pub fn blocks(summary: &Summary, axis: &str) -> Result<Vec<Block>, ReportError> {
    let Some(metric) = summary.rank.map(|k| summary.metrics[k].clone()) else { return Ok(Vec::new()) };
    let groups = trials(summary, axis, &metric);
    let ka = summary.grid.iter().position(|g| g == axis);
    let tuned =
        ka.is_some_and(|ka| groups.iter().all(|(v, _)| summary.rows.iter().filter(|r| r.point[ka] == *v).count() > 1));
    if groups.len() < 2 || !tuned {
        return Ok(Vec::new());
    }
    let higher = rnnlab_spec::vocab::higher_is_better(&metric);
    let curves: Vec<Curve> =
        groups.iter().map(|(value, vs)| Curve { value: value.clone(), at: curve(vs, higher) }).collect();
    let most = curves.iter().map(|c| c.at.len()).max().unwrap_or(0);
    let mut budgets: Vec<usize> = std::iter::successors(Some(1), |n| Some(n * 2)).take_while(|&n| n < most).collect();
    budgets.push(most);
    let mut header = vec!["trials n".to_string()];
    header.extend(curves.iter().map(|c| format!("{axis} = {} ({} trials)", c.value, c.at.len())));
    let rows = budgets
        .iter()
        .map(|&n| {
            let mut row = vec![n.to_string()];
            row.extend(curves.iter().map(|c| c.at.get(n - 1).map_or("—".into(), |i| i.show(4))));
            row
        })
        .collect();
    let mut sentences = Vec::new();
    for (i, a) in curves.iter().enumerate() {
        for b in curves.iter().skip(i + 1) {
            for (x, y) in [(a, b), (b, a)] {
                if let Some(n) = separates(&x.at, &y.at, higher) {
                    sentences.push(format!(
                        "with {n} or more trials of tuning, {axis} = {} beats {} (95% bands apart)",
                        x.value, y.value
                    ));
                }
            }
        }
    }
    let verdict = if sentences.is_empty() {
        "No pair's bands separate at any budget the trials reach.".to_string()
    } else {
        let text = sentences.join("; ");
        format!("{}{}.", text[..1].to_uppercase(), &text[1..])
    };
    let plot = svg(&curves, axis, &metric)?;
    Ok(vec![
        Block::Heading(2, format!("Expected best `{metric}` after n trials of tuning")),
        Block::Paragraph(format!(
            "For each `{axis}` value, the expected best `{metric}` of n trials drawn from its ok trials (every \
             grid point and seed; Dodge et al. 2019), with a percentile-bootstrap 95% band ({} resamples): how \
             a comparison depends on the tuning budget. {verdict}",
            stats::RESAMPLES
        )),
        Block::Table(Table { header, rows }),
        Block::Figure {
            path: format!("plots/expected_best_{metric}.svg"),
            svg: plot,
            caption: format!("expected best {metric} after n trials of tuning"),
        },
    ])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_expected_best_of_n_draws() {
        let v = [1.0, 2.0, 3.0, 4.0];
        // One draw: the mean; many: the maximum.
        assert!((expected_best(&v, 1, true) - 2.5).abs() < 1e-12);
        assert!((expected_best(&v, 200, true) - 4.0).abs() < 1e-9);
        // Two draws from {1,2,3,4}: P(max ≤ k) = (k/4)², so E = Σ k·((k/4)² − ((k−1)/4)²) = 50/16.
        assert!((expected_best(&v, 2, true) - 50.0 / 16.0).abs() < 1e-12);
        // Lower is better: the expected minimum.
        assert!((expected_best(&v, 2, false) - (5.0 - 50.0 / 16.0)).abs() < 1e-12);
        let c = curve(&v, true);
        assert_eq!(c.len(), 4);
        assert!(c.windows(2).all(|w| w[1].value >= w[0].value), "more trials never expect worse");
        assert!(c.iter().all(|i| i.lo <= i.value && i.value <= i.hi));
    }

    #[test]
    fn separation_needs_the_bands_apart_from_some_budget_on() {
        let at = |v: &[(f64, f64)]| {
            v.iter().map(|&(lo, hi)| Interval { value: (lo + hi) / 2.0, lo, hi }).collect::<Vec<_>>()
        };
        let a = at(&[(0.0, 2.0), (1.5, 3.0), (2.5, 4.0)]);
        let b = at(&[(0.5, 1.8), (1.0, 2.0), (1.2, 2.2)]);
        assert_eq!(separates(&a, &b, true), Some(3));
        assert_eq!(separates(&b, &a, true), None);
        // Lower is better: the same bands read the other way.
        assert_eq!(separates(&b, &a, false), Some(3));
        assert_eq!(separates(&a, &b, false), None);
    }
}
