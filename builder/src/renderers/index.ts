// Which renderer draws which component type, shared by the viewer and the builder's canvas,
// so what a builder sees is what a viewer gets.
import type { ComponentType as Kind } from "../api/app-definition.gen";
import type { ComponentType } from "react";
import { ButtonRenderer, ContainerRenderer, FormRenderer, ModalRenderer, TextInputRenderer, TextRenderer } from "./basic";
import { ChartRenderer } from "./Chart";
import { CheckboxRenderer, DatePickerRenderer, ImageRenderer, NumberInputRenderer, SelectRenderer } from "./inputs";
import { TableRenderer } from "./Table";
import type { RendererProps } from "./types";

export type { RendererProps } from "./types";

export const RENDERERS: Record<Kind, ComponentType<RendererProps>> = {
  text: TextRenderer,
  button: ButtonRenderer,
  textInput: TextInputRenderer,
  numberInput: NumberInputRenderer,
  select: SelectRenderer,
  checkbox: CheckboxRenderer,
  datePicker: DatePickerRenderer,
  table: TableRenderer,
  form: FormRenderer,
  chart: ChartRenderer,
  container: ContainerRenderer,
  modal: ModalRenderer,
  image: ImageRenderer,
};
