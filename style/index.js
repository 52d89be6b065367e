import './base.css';
import './source.css';
