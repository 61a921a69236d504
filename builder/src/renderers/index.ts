// Which renderer draws which component type. The builder's canvas (a later phase) uses the
// same table, so what a builder sees is what a viewer gets.
import type { ComponentType as Kind } from "../api/app-definition.gen";
import type { ComponentType } from "react";
import { ButtonRenderer, ContainerRenderer, PlaceholderRenderer, TextInputRenderer, TextRenderer } from "./basic";
import { TableRenderer } from "./Table";
import type { RendererProps } from "./types";

export type { RendererProps } from "./types";

export const RENDERERS: Record<Kind, ComponentType<RendererProps>> = {
  text: TextRenderer,
  button: ButtonRenderer,
  textInput: TextInputRenderer,
  table: TableRenderer,
  container: ContainerRenderer,
  form: ContainerRenderer,
  numberInput: PlaceholderRenderer,
  select: PlaceholderRenderer,
  checkbox: PlaceholderRenderer,
  datePicker: PlaceholderRenderer,
  chart: PlaceholderRenderer,
  modal: PlaceholderRenderer,
  image: PlaceholderRenderer,
};
