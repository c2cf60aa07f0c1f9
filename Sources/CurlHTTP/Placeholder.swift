// placeholder: filled by the CurlHTTP work
