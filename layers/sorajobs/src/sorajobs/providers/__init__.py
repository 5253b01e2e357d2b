"""Video providers behind one small interface. Importing this package never imports `openai`."""
