//! The field: the board in a fixed logical viewBox (20 units a cell) that CSS scales to
//! the window, with bricks, flies, spiders, their names and hearts. A swipe on it moves
//! one's spider (phones).

use protocol::Cell;
use rules::Player;
use yew::prelude::*;

use super::use_game;
use crate::gesture;
use crate::state::Action;

/// Logical size of one cell.
const CELL: i32 = 20;
/// Room around the board, so names and hearts at the edges stay visible.
const MARGIN: i32 = 14;

/// The centre of a cell, in logical units.
fn centre(cell: Cell) -> (i32, i32) {
    (cell.x * CELL + CELL / 2, cell.y * CELL + CELL / 2)
}

#[function_component]
pub fn Field() -> Html {
    let game = use_game();
    let board = game.world.board();
    let (w, h) = (board.width() * CELL, board.height() * CELL);
    let view_box = format!(
        "{} {} {} {}",
        -MARGIN,
        -MARGIN,
        w + 2 * MARGIN,
        h + 2 * MARGIN
    );
    let near_right = board.width() - 5;
    let bricks = game.world.known.bricks.iter().map(|brick| {
        let (x, y) = (brick.cell.x * CELL, brick.cell.y * CELL);
        html! { <use key={format!("b{x}.{y}")} href="#brick" x={x.to_string()} y={y.to_string()} width="20" height="20" /> }
    });
    let food = game.world.known.food.iter().map(|fly| {
        html! {
            <g key={fly.id.to_string()} class="fly-cell" style={place(fly.cell)}>
                <use href="#fly" class="fly" x="-10" y="-10" width="20" height="20" />
            </g>
        }
    });
    let others = game
        .others()
        .map(|(id, p)| spider(id.to_string(), p, game.world.heading(id), false, near_right));
    let own = game.own_player().map(|me| {
        spider(
            "own".into(),
            me,
            game.world.heading(game.me),
            true,
            near_right,
        )
    });
    // where the current stroke started; the stroke only counts when the finger lifts
    let stroke = use_mut_ref(|| None::<(i32, i32)>);
    let on_down = {
        let stroke = stroke.clone();
        Callback::from(move |e: PointerEvent| {
            *stroke.borrow_mut() = e.is_primary().then(|| (e.client_x(), e.client_y()))
        })
    };
    let on_up = {
        let stroke = stroke.clone();
        let dispatch = game.dispatcher();
        Callback::from(move |e: PointerEvent| {
            let start = stroke.borrow_mut().take();
            if let Some((dx, dy)) =
                start.and_then(|(x, y)| gesture::swipe(e.client_x() - x, e.client_y() - y))
            {
                dispatch.dispatch(Action::Step { dx, dy });
            }
        })
    };
    let on_cancel = Callback::from(move |_: PointerEvent| *stroke.borrow_mut() = None);
    html! {
        <svg class="field" viewBox={view_box} preserveAspectRatio="xMidYMid meet"
            role="img" aria-label="the field: swipe on it to move" onpointerdown={on_down} onpointerup={on_up}
            onpointercancel={on_cancel}>
            <rect class="ground" x={(-MARGIN / 2).to_string()} y={(-MARGIN / 2).to_string()}
                width={(w + MARGIN).to_string()} height={(h + MARGIN).to_string()} rx="10" />
            <rect width={w.to_string()} height={h.to_string()} fill="url(#grid)" />
            { for bricks }
            { for food }
            { for others }
            { for own }
        </svg>
    }
}

/// A CSS transform placing a group on a cell's centre; CSS (not the `transform`
/// attribute) so that moves glide.
fn place(cell: Cell) -> String {
    let (x, y) = centre(cell);
    format!("transform:translate({x}px,{y}px)")
}

/// One spider with its name and hearts, facing `heading` degrees; `own` draws ours,
/// distinct from the others. Names go left of the spider near the right edge (column
/// `near_right` or beyond).
fn spider(key: String, p: &Player, heading: i32, own: bool, near_right: i32) -> Html {
    let Some(cell) = p.cell else {
        return Html::default();
    };
    let class = classes!("spider", if own { "own" } else { "other" });
    let (anchor, label_x) = if cell.x >= near_right {
        ("end", "-12")
    } else {
        ("start", "12")
    };
    let facing = format!("transform:rotate({heading}deg)");
    html! {
        <g key={key} class={classes!("player", own.then_some("me"))} style={place(cell)}>
            if own { <circle class="halo" r="10.5" /> }
            <use href="#spider" class={class} style={facing} x="-12" y="-12" width="24" height="24" />
            if p.h {
                <g class="hearts">
                    <use href="#heart" class="heart h1" x="-10" y="-23" width="9" height="9" />
                    <use href="#heart" class="heart h2" x="1" y="-26" width="10" height="10" />
                </g>
            }
            <text class={classes!("name", own.then_some("own"))} x={label_x} y="4"
                text-anchor={anchor}>{&p.name}</text>
        </g>
    }
}
