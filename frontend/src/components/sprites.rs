//! Our sprites, drawn once as SVG symbols in a hidden `<svg>` and placed anywhere with
//! `<use href="#name">`. Each is centred on (0, 0) and fits a cell of 20 x 20 units;
//! body colours come from CSS through `currentColor`, so one spider serves for all.

use yew::prelude::*;

/// Four legs of one side, from the body outwards (knee, then foot).
const LEGS: &str = "M-2-2.5L-6.5-7.5L-9.5-6M-2.4-1L-7.5-3.5L-10.5-1.5\
                    M-2.4 1L-7.5 2.2L-9.8 6M-2 2.5L-5.5 6.5L-7 9.8";

#[function_component]
pub fn Sprites() -> Html {
    html! {
        <svg class="sprites" aria-hidden="true" width="0" height="0">
            <defs>
                <symbol id="spider" viewBox="-12 -12 24 24" overflow="visible">
                    <g class="legs" fill="none" stroke="#2a1f17" stroke-width="1.3"
                        stroke-linecap="round" stroke-linejoin="round">
                        <path d={LEGS} />
                        <path d={LEGS} transform="scale(-1 1)" />
                    </g>
                    <ellipse cy="3.6" rx="4.6" ry="5.4" fill="currentColor"
                        stroke="#2a1f17" stroke-width=".8" />
                    <path d="M0 0.6l1.6 2.4l-1.6 2.4l-1.6-2.4z M0 5.4l1.1 1.7l-1.1 1.7l-1.1-1.7z"
                        fill="#fff" opacity=".55" />
                    <circle cy="-3.4" r="3.1" fill="currentColor" stroke="#2a1f17"
                        stroke-width=".8" />
                    <circle cy="-3.4" r="3.1" fill="#2a1f17" opacity=".35" />
                    <circle cx="-1.1" cy="-4.6" r=".75" fill="#fff" />
                    <circle cx="1.1" cy="-4.6" r=".75" fill="#fff" />
                </symbol>
                <symbol id="fly" viewBox="-10 -10 20 20" overflow="visible">
                    <ellipse cx="-3.4" cy="-2.6" rx="4.2" ry="2.4" transform="rotate(-30 -3.4 -2.6)"
                        fill="#d8f0ff" stroke="#7aa7c4" stroke-width=".6" opacity=".9" />
                    <ellipse cx="3.4" cy="-2.6" rx="4.2" ry="2.4" transform="rotate(30 3.4 -2.6)"
                        fill="#d8f0ff" stroke="#7aa7c4" stroke-width=".6" opacity=".9" />
                    <ellipse cy="1.5" rx="2.6" ry="4.2" fill="#3a4a3f" />
                    <path d="M-2.4 0.5h4.8M-2.5 2.5h5" stroke="#7fb069" stroke-width=".9" />
                    <circle cy="-3.4" r="2.2" fill="#3a4a3f" />
                    <circle cx="-1.1" cy="-3.8" r=".9" fill="#c0392b" />
                    <circle cx="1.1" cy="-3.8" r=".9" fill="#c0392b" />
                </symbol>
                <symbol id="brick" viewBox="0 0 20 20">
                    <rect x=".5" y=".5" width="19" height="19" rx="2.5" fill="#b85c3c" />
                    <path d="M.5 7h19M.5 13.5h19M8 .5v6.5M14 7v6.5M5 13.5v6" stroke="#8c3f27"
                        stroke-width="1.2" fill="none" />
                    <rect x=".5" y=".5" width="19" height="19" rx="2.5" fill="none"
                        stroke="#7a3420" stroke-width="1" />
                    <path d="M2 2.5h5" stroke="#d98a66" stroke-width="1" stroke-linecap="round" />
                </symbol>
                <symbol id="heart" viewBox="-5 -5 10 10" overflow="visible">
                    <path d="M0 3.6C-4.4 .6-4.6-2.6-2.4-3.4C-1.2-3.8-.3-3.1 0-2.2C.3-3.1 1.2-3.8 2.4-3.4C4.6-2.6 4.4.6 0 3.6z"
                        fill="#e8436b" stroke="#fff" stroke-width=".6" />
                </symbol>
                <pattern id="grid" width="20" height="20" patternUnits="userSpaceOnUse">
                    <path d="M20 0H0V20" fill="none" stroke="#c9c19a" stroke-width=".6" />
                </pattern>
            </defs>
        </svg>
    }
}
