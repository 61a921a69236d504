import type { ReactNode } from "react";
import type { Component } from "../api/app-definition.gen";
import type { ComponentState } from "../viewer/runtime";

/** What every component renderer gets: its resolved props and its own state. */
export type RendererProps = {
  component: Component;
  /** Props with every `{{ }}` resolved; a prop whose binding failed is undefined. */
  props: Record<string, unknown>;
  state: ComponentState;
  setState(patch: ComponentState): void;
  /** Runs the component's handlers for an event (`onClick`, `onChange`, …). */
  fire(event: string): void;
  /** Renders the component's children on a grid of its own width (containers, forms). */
  renderChildren(): ReactNode;
};
