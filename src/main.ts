// The app's entry point.
import './ui/engine-check';
