//! The two figures shown at the top of docs/benchmarks.md, drawn with `plotters` (its
//! SVG backend: no font files, the text stays text): the ramp (p99 to the other players
//! and server CPU against players on one board, one line per variant) and the batching
//! sweep (the same two figures against the batched stream's flush interval at 800
//! players, with the reference clients' run as a dashed level to compare with).
//!
//! Each chart is drawn from the run that writes the tables, so the two never disagree;
//! a run without the scenario leaves no chart behind (see [`write`]).

use std::path::Path;

use anyhow::{Context, Result};
use plotters::coord::Shift;
use plotters::prelude::*;

use super::fanout::{Build, Case};
use super::markdown::{others_p99, server};
use super::Sockets;
use super::{Results, Run, Variant};
use loadgen_report::Report;

/// A chart's file, next to benchmarks.md, and what it shows (its link's text).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Chart {
    pub file: &'static str,
    pub alt: &'static str,
}

pub const RAMP: Chart = Chart {
    file: "bench-ramp.svg",
    alt: "the ramp: p99 to others and server CPU against players on one board",
};
pub const BATCHING: Chart = Chart {
    file: "bench-batching.svg",
    alt: "the batching sweep: p99 to others and server CPU against the flush interval",
};

/// The size of each chart, in SVG pixels (two panels side by side).
const SIZE: (u32, u32) = (960, 360);

/// One line of a panel: a name for the legend and its points.
struct Line {
    name: String,
    points: Vec<(f64, f64)>,
    /// Drawn dashed and without points: a level to compare with, not a measured curve.
    level: bool,
}

/// One panel: a title, the axes' names and its lines.
struct Panel {
    title: &'static str,
    x_desc: &'static str,
    y_desc: &'static str,
    lines: Vec<Line>,
}

/// The ramp: p99 to others and server CPU against players, one line per variant.
pub fn ramp(ramp: &[(Variant, Vec<Run>)]) -> Result<Option<String>> {
    let per_variant = |figure: fn(&Report) -> f64| -> Vec<Line> {
        ramp.iter()
            .filter(|(_, steps)| !steps.is_empty())
            .map(|(v, steps)| Line {
                name: v.name.clone(),
                points: steps
                    .iter()
                    .map(|s| (s.report.entered as f64, figure(&s.report)))
                    .collect(),
                level: false,
            })
            .collect()
    };
    let latency = per_variant(others_p99);
    if latency.is_empty() {
        return Ok(None);
    }
    draw(&[
        Panel {
            title: "p99 move to others, one board, 1 move/s",
            x_desc: "players",
            y_desc: "ms",
            lines: latency,
        },
        Panel {
            title: "server CPU",
            x_desc: "players",
            y_desc: "% of one core",
            lines: per_variant(|r| server(r).cpu_percent),
        },
    ])
    .map(Some)
}

/// The batching sweep: the current build's batched runs at the most players, by flush
/// interval, with its reference clients' run at that load as a level (two-socket bots
/// only: the one-socket run is a row of the table, not a point of the sweep).
pub fn batching(fanout: &[(Case, Report)]) -> Result<Option<String>> {
    let current = || {
        fanout
            .iter()
            .filter(|(c, _)| c.build == Build::Current && c.sockets == Sockets::Two)
    };
    let Some(players) = current()
        .filter(|(c, _)| c.batch_ms.is_some())
        .map(|(c, _)| c.players)
        .max()
    else {
        return Ok(None);
    };
    let at_load = || current().filter(|(c, _)| c.players == players);
    let mut batched: Vec<(u64, &Report)> = at_load()
        .filter_map(|(c, r)| c.batch_ms.map(|ms| (ms, r)))
        .collect();
    batched.sort_by_key(|(ms, _)| *ms);
    let reference = at_load()
        .find(|(c, _)| c.batch_ms.is_none())
        .map(|(_, r)| r);
    let lines = |figure: fn(&Report) -> f64| -> Vec<Line> {
        let measured = Line {
            name: "batched stream".into(),
            points: batched
                .iter()
                .map(|(ms, r)| (*ms as f64, figure(r)))
                .collect(),
            level: false,
        };
        let first = batched.first().map_or(0.0, |(ms, _)| *ms as f64);
        let last = batched.last().map_or(0.0, |(ms, _)| *ms as f64);
        let level = reference.map(|r| Line {
            name: "reference clients (no batching)".into(),
            points: vec![(first, figure(r)), (last, figure(r))],
            level: true,
        });
        std::iter::once(measured).chain(level).collect()
    };
    draw(&[
        Panel {
            title: "p99 move to others by flush interval",
            x_desc: "flush interval, ms",
            y_desc: "ms",
            lines: lines(others_p99),
        },
        Panel {
            title: "server CPU by flush interval",
            x_desc: "flush interval, ms",
            y_desc: "% of one core",
            lines: lines(|r| server(r).cpu_percent),
        },
    ])
    .map(Some)
}

/// Draws the panels side by side into one SVG document.
fn draw(panels: &[Panel]) -> Result<String> {
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, SIZE).into_drawing_area();
        root.fill(&WHITE).map_err(plot_error)?;
        let areas = root.split_evenly((1, panels.len()));
        for (panel, area) in panels.iter().zip(&areas) {
            draw_panel(panel, area)?;
        }
        root.present().map_err(plot_error)?;
    }
    Ok(svg)
}

fn draw_panel(panel: &Panel, area: &DrawingArea<SVGBackend, Shift>) -> Result<()> {
    let points = || panel.lines.iter().flat_map(|l| l.points.iter());
    let x_max = points().map(|p| p.0).fold(0.0, f64::max);
    let x_min = points().map(|p| p.0).fold(x_max, f64::min);
    let y_max = points().map(|p| p.1).fold(0.0, f64::max);
    // a single x (one step, one interval) still gets an axis of some width
    let x_range = if x_max > x_min {
        x_min..x_max
    } else {
        (x_min - 1.0)..(x_max + 1.0)
    };
    // headroom above the highest point for the legend, drawn in the upper left
    let y_range = 0.0..(y_max * 1.3).max(1.0);
    let mut chart = ChartBuilder::on(area)
        .caption(panel.title, ("sans-serif", 18))
        .margin(12)
        .x_label_area_size(36)
        .y_label_area_size(48)
        .build_cartesian_2d(x_range, y_range)
        .map_err(plot_error)?;
    chart
        .configure_mesh()
        .x_desc(panel.x_desc)
        .y_desc(panel.y_desc)
        .x_label_formatter(&|x| format!("{x:.0}"))
        .y_label_formatter(&|y| format!("{y:.0}"))
        .draw()
        .map_err(plot_error)?;
    for (i, line) in panel.lines.iter().enumerate() {
        let colour = Palette99::pick(i).to_rgba();
        let style = colour.stroke_width(2);
        let series = if line.level {
            chart.draw_series(DashedLineSeries::new(line.points.clone(), 6, 4, style))
        } else {
            chart.draw_series(LineSeries::new(line.points.clone(), style).point_size(3))
        };
        series
            .map_err(plot_error)?
            .label(line.name.as_str())
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 16, y)], style));
    }
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperLeft)
        .background_style(WHITE.mix(0.8))
        .border_style(BLACK)
        .draw()
        .map_err(plot_error)
}

/// plotters' errors borrow the backend; only their text outlives the drawing.
fn plot_error(e: impl std::fmt::Display) -> anyhow::Error {
    anyhow::anyhow!("cannot draw a chart: {e}")
}

/// Writes the charts this run has data for into `dir` and removes those it has none for
/// (a chart of an older run beside tables of a newer one would disagree with them).
/// Returns the charts written, for the links at the top of the section.
pub fn write(dir: &Path, results: &Results) -> Result<Vec<Chart>> {
    let mut written = Vec::new();
    for (chart, svg) in [
        (RAMP, ramp(&results.ramp)?),
        (BATCHING, batching(&results.fanout)?),
    ] {
        let file = chart.file;
        let path = dir.join(file);
        match svg {
            Some(svg) => {
                std::fs::write(&path, svg)
                    .with_context(|| format!("cannot write {}", path.display()))?;
                written.push(chart);
            }
            None if path.exists() => std::fs::remove_file(&path)
                .with_context(|| format!("cannot remove {}", path.display()))?,
            None => {}
        }
    }
    Ok(written)
}

#[cfg(test)]
mod tests {
    use super::*;
    use loadgen_report::{Deliveries, ServerFigures, Summary};

    /// A run of `players` measuring `p99_ms` to others at twice that in server CPU.
    fn report(players: usize, p99_ms: f64) -> Report {
        Report {
            entered: players,
            to_others: Deliveries {
                latency: Summary {
                    p99_ms,
                    ..Summary::default()
                },
                ..Deliveries::default()
            },
            server: Some(ServerFigures {
                cpu_percent: 2.0 * p99_ms,
                ..ServerFigures::default()
            }),
            ..Report::default()
        }
    }

    fn run(players: usize, p99_ms: f64) -> Run {
        Run {
            report: report(players, p99_ms),
            tries: 1,
        }
    }

    fn variant(name: &str) -> Variant {
        Variant {
            name: name.into(),
            server_args: vec![],
            steady_goal_ms: 5.0,
        }
    }

    /// The measured points of a drawn chart (each a `<circle>` marker; axes, levels and
    /// the legend have none), as (x, y) pixels, in drawing order.
    fn markers(svg: &str) -> Vec<(f64, f64)> {
        let attribute = |element: &str, name: &str| -> f64 {
            let value = element.split(&format!(" {name}=\"")).nth(1).unwrap();
            value[..value.find('"').unwrap()].parse().unwrap()
        };
        svg.split("<circle")
            .skip(1)
            .map(|element| (attribute(element, "cx"), attribute(element, "cy")))
            .collect()
    }

    #[test]
    fn the_ramp_draws_a_line_per_variant_in_both_panels_rising_with_the_latency() {
        let steps = || vec![run(100, 2.0), run(400, 8.0), run(800, 40.0)];
        let svg = ramp(&[(variant("embedded"), steps()), (variant("pulsar"), steps())])
            .unwrap()
            .expect("a chart when there are steps");
        assert!(
            svg.contains("embedded") && svg.contains("pulsar"),
            "legend: {svg}"
        );
        assert!(svg.contains("players") && svg.contains("% of one core"));
        let points = markers(&svg);
        // three steps of two variants in two panels
        assert_eq!(points.len(), 12, "{svg}");
        let latency = &points[..3];
        // SVG's y grows downwards: a higher p99 is drawn higher up, players to the right
        assert!(latency[0].0 < latency[1].0 && latency[1].0 < latency[2].0);
        assert!(latency[0].1 > latency[1].1 && latency[1].1 > latency[2].1);
    }

    #[test]
    fn no_ramp_steps_draw_no_chart() {
        assert!(ramp(&[]).unwrap().is_none());
        assert!(ramp(&[(variant("embedded"), vec![])]).unwrap().is_none());
    }

    fn case(batch_ms: Option<u64>, players: u32) -> Case {
        Case {
            build: Build::Current,
            sockets: Sockets::Two,
            batch_ms,
            players,
            rate: 1,
        }
    }

    #[test]
    fn the_sweep_plots_the_batched_runs_at_the_most_players_by_interval_with_the_reference_as_a_level(
    ) {
        let fanout = vec![
            (case(None, 100), report(100, 1.0)),
            (case(Some(10), 100), report(100, 1.0)),
            (case(None, 800), report(800, 30.0)),
            (case(Some(20), 800), report(800, 25.0)),
            (case(Some(10), 800), report(800, 20.0)),
        ];
        let svg = batching(&fanout).unwrap().expect("a chart");
        assert!(svg.contains("reference clients") && svg.contains("flush interval"));
        // the 800-player runs only, in both panels (the reference level has no markers)
        let points = markers(&svg);
        assert_eq!(points.len(), 4, "{svg}");
        // sorted by interval: 10 ms left of 20 ms
        let latency = &points[..2];
        assert!(latency[0].0 < latency[1].0);
        assert!(
            latency[0].1 > latency[1].1,
            "the 20 ms p99 is higher: drawn higher up: {latency:?}"
        );
    }

    #[test]
    fn a_run_without_the_scenario_removes_the_old_chart_instead_of_keeping_it() {
        let dir = tempfile::tempdir().unwrap();
        let results = Results {
            ramp: vec![(variant("embedded"), vec![run(100, 2.0)])],
            ..Results::default()
        };
        assert_eq!(write(dir.path(), &results).unwrap(), vec![RAMP]);
        assert!(dir.path().join(RAMP.file).exists());
        assert!(!dir.path().join(BATCHING.file).exists());
        assert!(write(dir.path(), &Results::default()).unwrap().is_empty());
        assert!(!dir.path().join(RAMP.file).exists());
    }
}
