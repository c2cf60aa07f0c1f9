// placeholder: filled by the Exposition work
